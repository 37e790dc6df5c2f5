import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { encodeEvent } from '../events/catalogue.js';
import { DrillScheduler, type RunContext } from './drill-scheduler.js';

const drillFile = (schedule: string) => `drill: nightly
description: a drill for the scheduler
target: { service: sample, release: v1.0.0 }
load: { script: loadtests/load.js }
faults: [{ name: bad, kind: release, release: v2 }]
expectations: [{ expect: healthy_after }]
schedule: "${schedule}"
`;

let store: SqliteEventStore;
let drillsDir: string;
beforeEach(() => {
  const root = mkdtempSync(join(tmpdir(), 'failsafe-scheduler-'));
  drillsDir = join(root, 'drills');
  mkdirSync(drillsDir);
  mkdirSync(join(root, 'loadtests'));
  writeFileSync(join(root, 'loadtests', 'load.js'), '');
  writeFileSync(join(drillsDir, 'nightly.yaml'), drillFile('0 3 * * *'));
  store = SqliteEventStore.open({ path: join(root, 'failsafe.db') });
});
afterEach(async () => {
  await store.close();
});

/** A scheduler on a clock the test moves, recording the runs it starts. */
function scheduler(clock: { now: Date }, runs: RunContext[]) {
  return new DrillScheduler({
    store,
    drillsDir,
    clock: { now: () => clock.now },
    log: () => {},
    checkEveryMs: 3_600_000,
    run: async (_drill, context) => void runs.push(context),
  });
}

describe('the drill scheduler', () => {
  it('runs nothing for slots from before its schedule existed', async () => {
    const runs: RunContext[] = [];
    const s = scheduler({ now: new Date('2026-11-24T10:00:00Z') }, runs);
    await s.start();
    await s.stop();
    expect(runs).toEqual([]);
  });

  it('runs each slot exactly once across several Failsafe processes, and catches up a missed one', async () => {
    const clock = { now: new Date('2026-11-24T10:00:00Z') };
    const runs: RunContext[] = [];
    const [a, b] = [scheduler(clock, runs), scheduler(clock, runs)];
    await a.tick();
    // Nobody ran at 03:00 on the 25th (Failsafe was down): at noon, the missed slot is due.
    clock.now = new Date('2026-11-25T12:00:00Z');
    await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()]);
    await Promise.all([a.stop(), b.stop()]);
    expect(runs).toEqual([
      { runId: expect.stringMatching(/^run-/), trigger: 'schedule', scheduledFor: '2026-11-25T03:00:00.000Z' },
    ]);
    clock.now = new Date('2026-11-26T03:00:30Z');
    await b.tick();
    await b.stop();
    expect(runs.map((r) => r.scheduledFor)).toEqual(['2026-11-25T03:00:00.000Z', '2026-11-26T03:00:00.000Z']);
  });

  it('runs a drill asked for through the API once, and not again after a restart', async () => {
    const request = encodeEvent(
      { type: 'DrillRequested', data: { runId: 'run-42', drill: 'nightly', requestedBy: 'alice' } },
      { actor: 'alice', occurredAt: new Date() },
    );
    await store.append('drill-run-42', [request], 'no_stream');
    const runs: RunContext[] = [];
    const first = scheduler({ now: new Date('2026-11-24T10:00:00Z') }, runs);
    await first.start();
    await expect.poll(() => runs.length).toBe(1);
    expect(runs[0]).toEqual({ runId: 'run-42', trigger: 'manual', requested: true });
    await first.stop();
    // The run started (as the runner records it), then Failsafe restarted.
    await store.append(
      'drill-run-42',
      [
        encodeEvent(
          { type: 'DrillStarted', data: { runId: 'run-42', drill: 'nightly', trigger: 'manual' } },
          { actor: 'drill', occurredAt: new Date() },
        ),
      ],
      0n,
    );
    const again = scheduler({ now: new Date('2026-11-24T10:00:00Z') }, runs);
    await again.start();
    await sleep(300);
    await again.stop();
    expect(runs).toHaveLength(1);
  });
});
