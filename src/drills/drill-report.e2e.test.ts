import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, layoutProblems, renderInChromium } from './chromium.fixture.js';
import { loadDrill } from './drill-file.js';
import { drillReportHtml } from './drill-report.js';
import { runDrill } from './drill-runner.js';
import { drillsDir, missingDrillTools, startDrillBench, type DrillBench } from './drill.fixture.js';

const missing = missingDrillTools();

/** With FAILSAFE_RECORD_REPORT_FIXTURE=1 the run's scorecard replaces the unit tests' recorded one. */
const fixture = fileURLToPath(new URL('./drill-report.fixture.json', import.meta.url));

let bench: DrillBench;
beforeAll(async () => {
  if (missing.length === 0) bench = await startDrillBench();
}, 60_000);
afterAll(async () => {
  await bench?.stop();
});

describe.skipIf(missing.length > 0)('the report of a real drill run', () => {
  it('plots the health samples the prober recorded during the run, in a real browser', async () => {
    const drill = loadDrill(`${drillsDir}high-error-rate.yaml`);
    const lines: string[] = [];
    // Shortened as the drill suite's short versions are: the bench's policy reacts in seconds.
    const card = await runDrill(
      { ...drill, load: { ...drill.load, before: 3000, during: 30_000, after: 5000 } },
      { store: bench.store, toxiproxy: bench.toxiproxy, targetAddress: bench.targetAddress, log: (l) => lines.push(l) },
    );
    expect(card.abortReason, lines.join('\n')).toBeUndefined();
    if (process.env.FAILSAFE_RECORD_REPORT_FIXTURE === '1')
      writeFileSync(fixture, `${JSON.stringify(card, null, 2)}\n`);

    const samples = card.timeline.filter((t) => t.kind === 'sample');
    const releases = new Set(samples.map((s) => s.release));
    expect(releases).toEqual(new Set(['v1.0.0', 'v2.0.0-errors']));
    // The bad release's own calls failed: the prober's counters say so, without any errorRate field.
    const bad = samples.filter((s) => s.release === 'v2.0.0-errors' && s.errorRate !== undefined);
    expect(Math.max(...bad.map((s) => s.errorRate!))).toBeGreaterThan(0.1);
    expect(samples.filter((s) => s.p95Ms !== undefined).length).toBeGreaterThan(5);
    expect(card.timeline.map((t) => t.kind)).toEqual(
      expect.arrayContaining(['fault', 'decision', 'rollback', 'recovery']),
    );

    const html = drillReportHtml(card);
    const plotted =
      samples.filter((s) => s.errorRate !== undefined).length + samples.filter((s) => s.p95Ms !== undefined).length;
    expect(html.match(/<circle class="point"/g)?.length).toBe(plotted);
    if (chromiumMissing) return;
    const rendered = await renderInChromium(html);
    const timeline = rendered.charts.find((c) => c.label === 'Timeline of the drill')!;
    expect(timeline.points.length).toBe(plotted);
    expect(layoutProblems(rendered)).toEqual([]);
  }, 150_000);

  it('lists the expectations of an aborted run as not judged, with the reason', async () => {
    const drill = loadDrill(`${drillsDir}high-error-rate.yaml`);
    const card = await runDrill(drill, {
      store: bench.store,
      toxiproxy: bench.toxiproxy,
      targetAddress: bench.targetAddress,
      log: () => undefined,
      signal: AbortSignal.abort(),
    });
    expect(card.outcome).toBe('aborted');
    expect(card.expectations).toHaveLength(drill.expectations.length);
    for (const e of card.expectations)
      expect(e).toMatchObject({ passed: false, notJudged: true, detail: expect.stringContaining(card.abortReason!) });
    expect(drillReportHtml(card)).toContain('<td class="not-judged">NOT JUDGED</td><td>rollback_decided (automatic)');
  }, 150_000);
});
