import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect } from '../event-store/event-store.contract.js';
import type { ReadAllOptions } from '../event-store/event-store.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { encodeEvent, type DomainEvent, type EventData } from '../events/catalogue.js';
import { closeStaleRuns, goneBecause, STALE_AFTER_MS, SWEPT_STREAM } from './drill-stale-runs.js';
import { drillStream } from '../domain/streams.js';

let dir: string;
let store: SqliteEventStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'failsafe-stale-runs-'));
  store = SqliteEventStore.open({ path: join(dir, 'events.db') });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const record = (runId: string, event: DomainEvent) =>
  store.append(drillStream(runId), [encodeEvent(event, { actor: `drill:${runId}`, occurredAt: new Date() })], 'any');
const start = (runId: string, pid: number, host = hostname()) =>
  record(runId, {
    type: 'DrillStarted',
    data: { runId, drill: 'high-error-rate', trigger: 'manual', runner: { host, pid } },
  });
/** A process that has run and exited: its pid names no runner any more. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid;
const close = () => closeStaleRuns(store, { now: new Date(), actor: 'drill:run-next', log: () => {} });

describe('runs whose runner is gone', () => {
  it('are finished as aborted, with why, by the next runner; live and finished runs are left alone', async () => {
    await start('run-killed', deadPid());
    await start('run-live', process.pid);
    await start('run-done', deadPid());
    await record('run-done', { type: 'DrillFinished', data: { runId: 'run-done', outcome: 'passed' } });
    expect(await close()).toEqual(['run-killed']);
    const last = (await collect(store.readStream(drillStream('run-killed')))).at(-1)!;
    expect(last.type).toBe('DrillFinished');
    expect(last.data).toEqual({
      runId: 'run-killed',
      outcome: 'aborted',
      abortReason: expect.stringMatching(/^closed as aborted by drill:run-next: its runner \(pid \d+ on .+\) is gone$/),
    });
    expect(await close()).toEqual([]);
  });

  it('are found by reading on from where the last sweep stopped, not the whole history again', async () => {
    await start('run-live', process.pid);
    await record('run-live', {
      type: 'DrillStepRecorded',
      data: { runId: 'run-live', step: 'prepare', status: 'started' },
    });
    expect(await close()).toEqual([]);
    const read: bigint[] = [];
    const counting = Object.create(store, {
      readAll: {
        value: (options?: ReadAllOptions) => {
          const events = store.readAll(options);
          return (async function* () {
            for await (const event of events) {
              read.push(event.position);
              yield event;
            }
          })();
        },
      },
    }) as SqliteEventStore;
    await start('run-killed', deadPid());
    const later = new Date(Date.now() + STALE_AFTER_MS + 60_000);
    // run-live, open at the first sweep, is carried by it: an hour on, its age closes it too.
    const closed = await closeStaleRuns(counting, { now: later, actor: 'drill:run-next', log: () => {} });
    expect(closed.sort()).toEqual(['run-killed', 'run-live']);
    const [first] = (await collect(store.readStream(SWEPT_STREAM))).map((e) => e.data as EventData<'DrillRunsSwept'>);
    expect(first).toEqual({
      position: expect.stringMatching(/^\d+$/),
      open: [expect.objectContaining({ runId: 'run-live', revision: '1' })],
    });
    // The second sweep read the first one's record and run-killed's start: nothing from before.
    expect(read).toEqual([BigInt(first!.position) + 1n, BigInt(first!.position) + 2n]);
  });

  it('on another machine, are judged by age: none runs longer than an hour', () => {
    const run = { runId: 'run-1', startedAt: 0, runner: { host: 'elsewhere', pid: 1 }, revision: 0n };
    expect(goneBecause(run, STALE_AFTER_MS - 1, 'here', () => false)).toBeUndefined();
    expect(goneBecause(run, STALE_AFTER_MS + 60_000, 'here', () => true)).toMatch(/started 61 min ago/);
    expect(goneBecause(run, 1000, 'elsewhere', () => false)).toMatch(/its runner \(pid 1 on elsewhere\) is gone/);
  });
});
