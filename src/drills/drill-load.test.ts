import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadDrill } from './drill-file.js';
import { DrillLoads } from './drill-load.js';
import type { LoadRun, LoadSummary } from './k6.js';

const drill = loadDrill(fileURLToPath(new URL('../../drills/high-error-rate.yaml', import.meta.url)));
const summary: LoadSummary = { requests: 10, p95Ms: 5, medianMs: 2, errorRate: 0 };

/** k6 as the drill sees it: counts its stops, ends when stopped. */
function fakeK6() {
  const stops: number[] = [];
  const start = () => {
    const index = stops.push(0) - 1;
    let end: (s: LoadSummary) => void = () => {};
    const done = new Promise<LoadSummary>((resolve) => (end = resolve));
    return {
      done,
      stop: () => {
        stops[index]! += 1;
        end(summary);
      },
    } satisfies LoadRun;
  };
  return { stops, start };
}

describe("a drill's load runs", () => {
  it('are each stopped once, however often the drill stops them (k6 stopped twice loses its summary)', async () => {
    const k6 = fakeK6();
    const loads = new DrillLoads(drill, () => {}, k6.start);
    const during = loads.run('during', 60_000, 'http://127.0.0.1:9/mcp');
    loads.stopRunning();
    loads.stopAll();
    loads.stopAll();
    expect(await during).toEqual(summary);
    expect(k6.stops).toEqual([1]);
    expect(loads.summaries.during).toEqual(summary);
  });

  it('once the drill is stopping, a late run is stopped at once, and the drill waits for every run', async () => {
    const k6 = fakeK6();
    const loads = new DrillLoads(drill, () => {}, k6.start);
    loads.stopAll();
    const after = loads.run('after', 10_000, 'http://127.0.0.1:9/mcp');
    await loads.ended();
    expect(k6.stops).toEqual([1]);
    expect(await after).toEqual(summary);
  });
});
