import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALERT_STREAM, CLOCK_STREAM, healthStream, migrationStream, serviceStream } from '../domain/streams.js';
import type { EventStore } from '../event-store/event-store.js';
import { MemoryEventStore } from '../event-store/memory-event-store.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import type { StoreLocation } from '../event-store/store-url.js';
import { encodeEvent, type DomainEvent, type EventType } from '../events/catalogue.js';
import { eventExamples } from '../events/event-examples.fixture.js';
import { POLICY_ACTOR } from '../policy/rollback-process-manager.js';
import { defaultRollbackPolicy, type RollbackPolicy } from '../policy/rollback-policy.js';
import { TELEMETRY_ACTOR } from '../policy/telemetry-watcher.js';
import { MemorySnapshotStore } from '../runtime/memory-snapshot-store.js';
import { freshPostgresStore } from '../testing/fresh-postgres-store.js';
import { postgresForTests, type PostgresForTests } from '../testing/test-servers.js';
import { storeHistory } from './store-history.js';
import { verificationSnapshots, verifyDecisions, type AuditReport } from './verify-decisions.js';
import { foldPartition, mergePartitions, partitionOf } from './verify-split.js';

const t0 = Date.UTC(2026, 11, 1, 3);
const iso = (seconds: number) => new Date(t0 + seconds * 1000).toISOString();
const SERVICES = ['payments', 'orders', 'search', 'billing', 'auth', 'cart'];
// '7' is a key objects put first: migrations' order in the read model is not the order they started in.
const MIGRATIONS = ['m-1', 'm-2', '7'];

/** The default policy, with an alert rule and a migration stall short enough to be seen. */
const policy: RollbackPolicy = {
  ...defaultRollbackPolicy,
  rules: {
    ...defaultRollbackPolicy.rules,
    migration_stalled: { when: 'migration_stalled_for', threshold: 60, action: 'manual_rollback', severity: 'P2' },
    critical_alert: { when: 'alert_firing', alerts: ['CriticalErrorRate'], action: 'manual_rollback' },
  },
};

type Step =
  | { kind: 'sample'; service: string; seconds: number; errors: number }
  | { kind: 'tick'; seconds: number }
  | { kind: 'service'; type: EventType; service: string; seconds: number; actor: string }
  | { kind: 'telemetry'; type: 'TelemetryStale' | 'TelemetryResumed'; service: string; seconds: number; cause: number }
  | { kind: 'migration'; migrationId: string; service: string; seconds: number; errorRate: number; start: boolean }
  | { kind: 'alert'; service: string | undefined; seconds: number; firing: boolean; fingerprint: string };

const service = fc.constantFrom(...SERVICES);
const seconds = fc.integer({ min: 5, max: 900 });
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('sample' as const), service, seconds, errors: fc.nat(60) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('tick' as const), seconds }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('service' as const),
      type: fc.constantFrom<EventType>(
        'RollbackDecided',
        'RollbackCompleted',
        'ServiceRegistered',
        'DeploymentHealthy',
      ),
      service,
      seconds,
      actor: fc.constantFrom('test', POLICY_ACTOR),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('telemetry' as const),
      type: fc.constantFrom('TelemetryStale' as const, 'TelemetryResumed' as const),
      service,
      seconds,
      cause: fc.nat(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('migration' as const),
      migrationId: fc.constantFrom(...MIGRATIONS),
      service,
      seconds,
      errorRate: fc.constantFrom(0, 0.5),
      start: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('alert' as const),
      service: fc.option(service, { nil: undefined }),
      seconds,
      firing: fc.boolean(),
      fingerprint: fc.constantFrom('f1a', 'b2c'),
    }),
  },
);
const steps = fc.array(step, { minLength: 1, maxLength: 60 });

/** Writes the steps, after a deployment of every service (samples judge a release). */
async function write(store: EventStore, steps: readonly Step[]): Promise<void> {
  const ids: string[] = [];
  const record = async (stream: string, event: DomainEvent, at: number, actor = 'test', cause?: string) => {
    const occurredAt = new Date(t0 + at * 1000);
    const encoded = encodeEvent(event, { actor, occurredAt, ...(cause && { causationId: cause }) });
    await store.append(stream, [encoded], 'any');
    ids.push(encoded.id);
  };
  if ((await store.headPosition()) === 0n)
    for (const name of SERVICES) {
      const d = { deploymentId: `d-${name}`, service: name, release: 'v1' };
      await record(serviceStream(name), { type: 'DeploymentStarted', data: d }, 0);
      await record(serviceStream(name), { type: 'DeploymentHealthy', data: d }, 1);
    }
  for (const s of steps) {
    if (s.kind === 'sample') {
      const data = { ...eventExamples.HealthSampleRecorded, service: s.service, sampledAt: iso(s.seconds) };
      const sample = { ...data, release: 'v1', requests: { total: 100, errors: s.errors } };
      await record(healthStream(s.service), { type: 'HealthSampleRecorded', data: sample }, s.seconds);
    } else if (s.kind === 'tick') {
      await record(CLOCK_STREAM, { type: 'ClockTicked', data: { at: iso(s.seconds) } }, s.seconds);
    } else if (s.kind === 'service') {
      const data = { ...eventExamples[s.type], service: s.service };
      await record(serviceStream(s.service), { type: s.type, data } as DomainEvent, s.seconds, s.actor);
    } else if (s.kind === 'telemetry') {
      const data = { ...eventExamples[s.type], service: s.service };
      const event = { type: s.type, data } as DomainEvent;
      await record(`telemetry-${s.service}`, event, s.seconds, TELEMETRY_ACTOR, ids[s.cause % ids.length]);
    } else if (s.kind === 'migration') {
      const { migrationId, errorRate } = s;
      const event: DomainEvent = s.start
        ? { type: 'MigrationStarted', data: { ...eventExamples.MigrationStarted, migrationId, service: s.service } }
        : {
            type: 'MigrationProgressRecorded',
            data: { ...eventExamples.MigrationProgressRecorded, migrationId, service: s.service, errorRate },
          };
      await record(migrationStream(migrationId), event, s.seconds);
    } else {
      const { service: about, fingerprint } = s;
      const { service: _, ...example } = eventExamples.AlertReceived;
      const data = {
        ...example,
        ...(about && { service: about }),
        status: s.firing ? 'firing' : 'resolved',
        fingerprint,
        startsAt: iso(s.seconds),
      };
      await record(ALERT_STREAM, { type: 'AlertReceived', data } as DomainEvent, s.seconds);
    }
  }
}

/** The state a full single-thread run ends with, as its snapshot keeps it. */
async function singleThreadState(store: EventStore) {
  const snapshots = new MemorySnapshotStore();
  const report = await verifyDecisions(storeHistory(store), policy, { snapshots, snapshotEvery: 1e9 });
  return { report, state: (await snapshots.atOrBeforePosition(verificationSnapshots(policy), 2n ** 62n))?.state };
}

const asJson = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;

describe('a full audit verify split by service', () => {
  it('puts every service in one partition, the same on every run, and uses every partition', () => {
    expect(SERVICES.map((s) => partitionOf(s, 2))).toEqual([0, 0, 1, 0, 1, 1]);
    expect(new Set(SERVICES.map((s) => partitionOf(s, 3)))).toEqual(new Set([0, 1, 2]));
  });

  it('merges the partitions into the state one fold reaches, in 2 or 3 partitions', async () => {
    await fc.assert(
      fc.asyncProperty(steps, fc.constantFrom(2, 3), async (history, count) => {
        const store = new MemoryEventStore();
        await write(store, history);
        const single = await singleThreadState(store);
        const results = [];
        for (let index = 0; index < count; index += 1)
          results.push(await foldPartition(storeHistory(store), policy, { index, count }));
        expect(asJson(mergePartitions(results, policy))).toEqual(single.state);
      }),
      { numRuns: 150 },
    );
  }, 120_000);

  it('decides for several services at one tick in the order one fold does', async () => {
    const store = new MemoryEventStore();
    // Four services failing, two stalled migrations ('7' comes first in the read model, started second),
    // in both partitions: one tick decides for all six.
    await write(store, [
      { kind: 'migration', migrationId: 'm-2', service: 'billing', seconds: 5, errorRate: 0, start: true },
      { kind: 'migration', migrationId: '7', service: 'auth', seconds: 6, errorRate: 0, start: true },
      ...['payments', 'orders', 'search', 'cart'].map((s, i) => ({
        kind: 'sample' as const,
        service: s,
        seconds: 40 + i,
        errors: 50,
      })),
      { kind: 'tick', seconds: 80 },
    ]);
    const { state } = await singleThreadState(store);
    const tick = (await store.headPosition()).toString();
    const decided = (state as { computed: { tippingPosition: string; service: string; rule: string }[] }).computed
      .filter((d) => d.tippingPosition === tick)
      .map((d) => `${d.service} ${d.rule}`);
    expect(decided).toEqual([
      'cart error_rate_critical',
      'orders error_rate_critical',
      'payments error_rate_critical',
      'search error_rate_critical',
      'auth migration_stalled',
      'billing migration_stalled',
    ]);
    const results = [0, 1].map((index) => foldPartition(storeHistory(store), policy, { index, count: 2 }));
    expect(asJson(mergePartitions(await Promise.all(results), policy))).toEqual(state);
  });
});

/** What must not depend on where a run started. */
const verdicts = ({ fromPosition: _f, eventsThisRun: _e, ...rest }: AuditReport) => rest;

/** A store a property run writes to, at a location a worker opens again. */
interface OpenedStore {
  readonly store: EventStore;
  readonly location: StoreLocation;
  dispose(): Promise<void>;
}

/** Two threads report what one does, from zero and going on from a snapshot, on each store `open` gives. */
const twoThreadsReportAsOne = (open: () => Promise<OpenedStore>, numRuns: number) => () =>
  fc.assert(
    fc.asyncProperty(steps, steps, async (before, after) => {
      const { store, location, dispose } = await open();
      try {
        await write(store, before);
        const history = storeHistory(store);
        const split = { snapshots: new MemorySnapshotStore() };
        const single = { snapshots: new MemorySnapshotStore() };
        const twoThreads = await verifyDecisions(history, policy, {
          ...split,
          threads: 2,
          store: location,
          splitFrom: 0,
        });
        const oneThread = await verifyDecisions(history, policy, single);
        expect(twoThreads).toEqual(oneThread);
        await write(store, after);
        const resumeAfter = BigInt(oneThread.throughPosition);
        const afterSplit = await verifyDecisions(history, policy, { ...split, resumeAfter });
        const afterSingle = await verifyDecisions(history, policy, { ...single, resumeAfter });
        expect(afterSplit).toEqual(afterSingle);
        expect(verdicts(afterSplit)).toEqual(verdicts(await verifyDecisions(history, policy)));
      } finally {
        await dispose();
      }
    }),
    { numRuns },
  );

describe('a full audit verify in two threads (a worker reading the SQLite store itself)', () => {
  it(
    'reports what one thread reports; a run going on from its snapshot, what one after one thread does',
    twoThreadsReportAsOne(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'failsafe-verify-split-'));
      const path = join(dir, 'events.db');
      const store = SqliteEventStore.open({ path });
      const dispose = async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      };
      return { store, location: { kind: 'sqlite', path }, dispose };
    }, 12),
    120_000,
  );

  it('keeps to one thread for a history it cannot open again, and for a short one', async () => {
    const store = new MemoryEventStore();
    await write(store, [{ kind: 'tick', seconds: 10 }]);
    // No location to open the store from: a worker would fail; the run must not start one.
    const report = await verifyDecisions(storeHistory(store), policy, { threads: 2, splitFrom: 0 });
    expect(report).toEqual(await verifyDecisions(storeHistory(store), policy));
    const missing = { kind: 'sqlite' as const, path: '/nonexistent/failsafe/events.db' };
    const short = await verifyDecisions(storeHistory(store), policy, { threads: 2, store: missing });
    expect(short.eventsReplayed).toBe(13);
  });

  it('reads the snapshot it goes on from once, not again to decide whether to split', async () => {
    const store = new MemoryEventStore();
    await write(store, [{ kind: 'tick', seconds: 10 }]);
    const snapshots = new MemorySnapshotStore();
    const first = await verifyDecisions(storeHistory(store), policy, { snapshots });
    await write(store, [{ kind: 'tick', seconds: 20 }]);
    let reads = 0;
    const read = snapshots.atOrBeforePosition.bind(snapshots);
    snapshots.atOrBeforePosition = (key, position) => {
      reads += 1;
      return read(key, position);
    };
    const options = { snapshots, threads: 2, store: { kind: 'sqlite' as const, path: '/nonexistent/events.db' } };
    const next = await verifyDecisions(storeHistory(store), policy, {
      ...options,
      resumeAfter: BigInt(first.throughPosition),
      splitFrom: 0,
    });
    expect(next.fromPosition).toBe(first.throughPosition);
    expect(reads).toBe(1);
  });
});

// The worker opens the database itself and reads its pages undecoded, as on SQLite.
describe('a full audit verify in two threads on PostgreSQL', () => {
  let server: PostgresForTests | undefined;
  beforeAll(async () => {
    server = await postgresForTests();
  }, 120_000);
  afterAll(() => server?.stop());

  it(
    'reports what one thread reports; a run going on from its snapshot, what one after one thread does',
    twoThreadsReportAsOne(async () => {
      const { store, url, dispose } = await freshPostgresStore(server!, 'verify_split');
      return { store, location: { kind: 'postgres', url }, dispose };
    }, 6),
    180_000,
  );
});
