import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect } from '../event-store/event-store.contract.js';
import { loadDrill, type Drill } from './drill-file.js';
import { drillStream, runDrill } from './drill-runner.js';
import { drillsDir, startDrillBench, type DrillBench } from './drill.fixture.js';

/** The shipped drill, shortened for CI: less baseline and verification load, the same faults and expectations. */
const short = (name: string): Drill => {
  const drill = loadDrill(`${drillsDir}${name}.yaml`);
  return { ...drill, load: { ...drill.load, before: 3000, after: 5000 } };
};

let bench: DrillBench;
const lines: string[] = [];
beforeAll(async () => {
  bench = await startDrillBench();
}, 60_000);
afterAll(async () => {
  await bench?.stop();
});

const run = (drill: Drill) => runDrill(drill, { store: bench.store, toxiproxy: bench.toxiproxy, targetAddress: bench.targetAddress, log: (l) => lines.push(l) });

describe('the shipped drills, against the real sample fleet, Toxiproxy and k6', () => {
  it('high-error-rate: the bad release is rolled back automatically', async () => {
    const card = await run(short('high-error-rate'));
    expect(card.expectations.filter((e) => !e.passed), lines.join('\n')).toEqual([]);
    expect(card.outcome).toBe('passed');
    expect(card.timeToDetectMs).toBeLessThan(30_000);
    expect(card.timeToRecoverMs).toBeLessThan(60_000);
    expect(card.load.after!.errorRate).toBeLessThan(0.05);
    const types = (await collect(bench.store.readStream(drillStream(card.runId)))).map((e) => e.type);
    expect(types[0]).toBe('DrillStarted');
    expect(types).toContain('DrillFaultInjected');
    expect(types.at(-1)).toBe('DrillFinished');
    expect(await bench.toxiproxy.toxics(`drill-high-error-rate`).catch((e: Error) => e.message)).toMatch(/404/);
  }, 150_000);
});
