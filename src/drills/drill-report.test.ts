import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chromiumMissing, layoutProblems, renderInChromium } from './chromium.fixture.js';
import { drillReportHtml, drillTrendHtml } from './drill-report.js';
import type { Scorecard, TimelineEntry } from './scorecard.js';
import { placeLabels, textWidth } from './svg-chart.js';

/**
 * The scorecard of a real short high-error-rate run (drill-report.e2e.test.ts records it with
 * FAILSAFE_RECORD_REPORT_FIXTURE=1): its samples are the ones the real prober recorded.
 */
const recorded = JSON.parse(readFileSync(new URL('./drill-report.fixture.json', import.meta.url), 'utf8')) as Scorecard;
const samples = recorded.timeline.filter((t) => t.kind === 'sample');
const plotted = (card: Scorecard) =>
  card.timeline.filter((t) => t.kind === 'sample' && t.errorRate !== undefined).length +
  card.timeline.filter((t) => t.kind === 'sample' && t.p95Ms !== undefined).length;

/** A run whose markers crowd together: every kind, within a second, with long labels. */
const crowded: Scorecard = {
  ...recorded,
  timeline: [
    ...recorded.timeline,
    ...(['fault', 'heal', 'decision', 'rollback', 'recovery'] as const).flatMap((kind, i) =>
      [0, 1].map(
        (k): TimelineEntry => ({
          at: Date.parse(recorded.startedAt) + 20_000 + i * 150 + k * 60,
          kind,
          label: `${kind} ${k} with a label long enough to run into its neighbours unless it is moved`,
        }),
      ),
    ),
  ].sort((a, b) => a.at - b.at),
};

const runs = (count: number): Scorecard[] =>
  Array.from({ length: count }, (_, i) => ({
    ...recorded,
    runId: `run-${i}`,
    outcome: i % 7 === 3 ? 'aborted' : i % 5 === 4 ? 'failed' : 'passed',
    startedAt: new Date(Date.parse('2026-11-01T03:00:00Z') + i * 86_400_000).toISOString(),
    timeToDetectMs: i % 7 === 3 ? undefined : 3_000 + (i % 4) * 900,
    timeToRecoverMs: i % 7 === 3 ? undefined : 9_000 + (i % 3) * 2_500,
  }));

describe('the timeline of a real run', () => {
  it('has the samples the prober recorded, with error rates and P95s, of both releases', () => {
    expect(new Set(samples.map((s) => s.release))).toEqual(new Set(['v1.0.0', 'v2.0.0-errors']));
    expect(samples.filter((s) => s.errorRate !== undefined).length).toBeGreaterThan(5);
    expect(samples.filter((s) => s.p95Ms !== undefined).length).toBeGreaterThan(5);
  });

  it('plots a point per error rate and per P95, and marks the fault, decision, rollback and recovery', () => {
    const html = drillReportHtml(recorded);
    expect(html.match(/<circle class="point"/g)).toHaveLength(plotted(recorded));
    for (const kind of ['fault', 'decision', 'rollback', 'recovery'])
      expect(html).toMatch(new RegExp(`<text class="marker-label"[^>]*>[\\d.]+ s ${kind}: `));
    expect(html).not.toContain('no health sample');
    // A colour per release: the bad release's points are told apart from the good one's.
    const fills = new Set(
      html.match(/<circle class="point"[^>]*fill="([^"]+)"/g)?.map((c) => /fill="([^"]+)"/.exec(c)![1]),
    );
    expect(fills.size).toBe(2);
    expect(html).toContain('>release v2.0.0-errors</text>');
  });

  it('says so when no sample carries an error rate or a P95', () => {
    const bare = samples.map(({ errorRate: _, p95Ms: __, ...rest }) => rest);
    const html = drillReportHtml({ ...recorded, timeline: bare });
    expect(html).not.toContain('class="point"');
    expect(html).toContain('no health sample of this run carries an error rate or a P95');
  });
});

describe('labels', () => {
  it('are spread over lanes so that none overlap and all stay within bounds', () => {
    const wanted = Array.from({ length: 12 }, (_, i) => ({ x: 600 + i * 20, text: `label ${i} `.repeat(4) }));
    const placed = placeLabels(wanted, 4, 944);
    for (const [i, a] of placed.entries()) {
      expect(a.x).toBeGreaterThanOrEqual(4);
      expect(a.x + a.width).toBeLessThanOrEqual(944);
      expect(a.width).toBe(textWidth(wanted[i]!.text));
      for (const b of placed.slice(i + 1))
        if (a.lane === b.lane) expect(a.x + a.width <= b.x || b.x + b.width <= a.x).toBe(true);
    }
    expect(new Set(placed.map((p) => p.lane)).size).toBeGreaterThan(1);
  });
});

describe('the trend of a drill', () => {
  it('draws MTTD and MTTR of every run that has them, and every run’s outcome', () => {
    const cards = runs(9);
    const html = drillTrendHtml('high-error-rate', cards);
    const measured = cards.filter((c) => c.timeToDetectMs !== undefined).length;
    expect(html.match(/class="point"/g)).toHaveLength(2 * measured);
    expect(html.match(/<rect class="outcome"/g)).toHaveLength(9);
    expect(html).toContain('<title>run-4: failed</title>');
  });
});

describe.skipIf(chromiumMissing)('in a real browser (headless Chromium)', () => {
  it("shows the real run's points inside the page, and no label overlaps another or leaves the page", async () => {
    const rendered = await renderInChromium(drillReportHtml(recorded), process.env.FAILSAFE_REPORT_SCREENSHOT);
    const timeline = rendered.charts.find((c) => c.label === 'Timeline of the drill')!;
    expect(timeline.points).toHaveLength(plotted(recorded));
    expect(layoutProblems(rendered)).toEqual([]);
  });

  it('finds labels over each other or off the page, and points outside their chart', async () => {
    const svg = (body: string) =>
      `<svg viewBox="0 0 200 100" width="200" aria-label="bad" font-size="11" xmlns="http://www.w3.org/2000/svg">` +
      `${body}</svg>`;
    const rendered = await renderInChromium(
      `<!doctype html><body>${svg(
        '<text x="10" y="20">first</text><text x="14" y="22">second</text><text x="190" y="60">off</text>' +
          '<circle class="point" cx="300" cy="50" r="3"/>',
      )}</body>`,
    );
    expect(layoutProblems(rendered)).toEqual([
      'bad: point 0 lies outside the chart',
      'bad: "first" overlaps "second"',
      'bad: "off" lies outside the chart',
    ]);
  });

  it('keeps crowded markers readable', async () => {
    const rendered = await renderInChromium(drillReportHtml(crowded));
    expect(rendered.charts[0]!.texts.filter((t) => / with a label long enough/.test(t.text))).toHaveLength(10);
    expect(layoutProblems(rendered)).toEqual([]);
  });

  it('draws the trend of many runs with dates that do not overlap', async () => {
    const rendered = await renderInChromium(drillTrendHtml('high-error-rate', runs(60)));
    const trend = rendered.charts.find((c) => c.label === 'Detection and recovery times over runs')!;
    expect(trend.points.length).toBeGreaterThan(60);
    expect(layoutProblems(rendered)).toEqual([]);
  });
});
