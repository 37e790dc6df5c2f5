import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { encodeEvent, type EventData } from '../events/catalogue.js';
import { sampleTimeline } from './drill-samples.js';
import { healthStream, serviceStream } from '../domain/streams.js';

let dir: string;
let store: SqliteEventStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'failsafe-samples-'));
  store = SqliteEventStore.open({ path: join(dir, 'events.db') });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const meta = { actor: 'failsafe:prober', occurredAt: new Date() };
/** A sample as the prober records it today: counters and the histogram's percentiles, no error rate field. */
const probe = (at: number, release: string, requests?: { total: number; errors: number }, p95?: number) =>
  encodeEvent(
    {
      type: 'HealthSampleRecorded',
      data: {
        service: 'sample',
        instance: `sample-${release}`,
        release,
        sampledAt: new Date(at).toISOString(),
        healthy: requests !== undefined,
        healthLatencyMs: 3,
        ...(requests && { requests }),
        ...(p95 !== undefined && { latencyMs: { p50: p95 / 2, p95, p99: p95 * 2 } }),
      } satisfies EventData<'HealthSampleRecorded'>,
    },
    meta,
  );
const rollback = (fromRelease: string, toRelease: string) =>
  encodeEvent(
    { type: 'RollbackStarted', data: { rollbackId: 'r-1', service: 'sample', fromRelease, toRelease } },
    meta,
  );

describe('the samples of a drill run', () => {
  it('derive each probe’s error rate and P95 as the policy does, and mark rollbacks to another release', async () => {
    const since = Date.now() - 10_000;
    await store.append(healthStream('sample'), [probe(since - 60_000, 'v1.0.0', { total: 9, errors: 9 }, 9)], 'any');
    await store.append(
      healthStream('sample'),
      [
        probe(since + 1000, 'v1.0.0', { total: 20, errors: 0 }, 12),
        probe(since + 2000, 'v2.0.0-errors', { total: 40, errors: 12 }, 30),
        probe(since + 3000, 'v2.0.0-errors', { total: 0, errors: 0 }),
        probe(since + 4000, 'v2.0.0-errors'),
      ],
      'any',
    );
    await store.append(
      serviceStream('sample'),
      [rollback('v1.0.0', 'v1.0.0'), rollback('v2.0.0-errors', 'v1.0.0')],
      'any',
    );

    const entries = await sampleTimeline(store, 'sample', since);

    expect(entries.map((e) => [e.at - since, e.kind, e.release, e.errorRate, e.p95Ms, e.healthy])).toEqual([
      [1000, 'sample', 'v1.0.0', 0, 12, true],
      [2000, 'sample', 'v2.0.0-errors', 0.3, 30, true],
      [3000, 'sample', 'v2.0.0-errors', undefined, undefined, true],
      [4000, 'sample', 'v2.0.0-errors', undefined, undefined, false],
      [expect.any(Number), 'rollback', undefined, undefined, undefined, undefined],
    ]);
    expect(entries.at(-1)!.label).toBe('rollback v2.0.0-errors → v1.0.0');
  });
});
