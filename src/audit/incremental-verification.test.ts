import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AUDIT_STREAM, CLOCK_STREAM, healthStream, serviceStream, telemetryStream } from '../domain/streams.js';
import { MemoryEventStore } from '../event-store/memory-event-store.js';
import { encodeEvent, type DomainEvent, type EventType } from '../events/catalogue.js';
import { eventExamples } from '../events/event-examples.fixture.js';
import { POLICY_ACTOR } from '../policy/rollback-process-manager.js';
import { defaultRollbackPolicy, type RollbackPolicy } from '../policy/rollback-policy.js';
import { TELEMETRY_ACTOR, telemetryDecisionId } from '../policy/telemetry-watcher.js';
import { fixedClock } from '../runtime/clock.js';
import { MemorySnapshotStore } from '../runtime/memory-snapshot-store.js';
import { verifyAndRecord } from './incremental-verification.js';
import { storeHistory } from './store-history.js';
import { verifyDecisions, type AuditReport } from './verify-decisions.js';

const t0 = Date.UTC(2026, 11, 1, 3);
const clock = fixedClock(new Date(t0 + 3_600_000));

/** A history being written: `record` appends one event at `seconds`, with an actor and a cause. */
function writer(store: MemoryEventStore) {
  const ids: string[] = [];
  const record = async (stream: string, event: DomainEvent, seconds: number, actor = 'test', cause?: string) => {
    const encoded = encodeEvent(event, {
      actor,
      occurredAt: new Date(t0 + seconds * 1000),
      ...(cause && { causationId: cause }),
    });
    await store.append(stream, [encoded], 'any');
    ids.push(encoded.id);
    return encoded.id;
  };
  const sample = (service: string, seconds: number, errors: number): DomainEvent => ({
    type: 'HealthSampleRecorded',
    data: {
      service,
      instance: `${service}-1`,
      sampledAt: new Date(t0 + seconds * 1000).toISOString(),
      healthy: true,
      healthLatencyMs: 4,
      requests: { total: 100, errors },
    },
  });
  const deploy = async (service: string) => {
    const d = (id: string, release: string) => ({ deploymentId: id, service, release });
    const events: DomainEvent[] = [
      { type: 'DeploymentRequested', data: d('d-1', 'v1') },
      { type: 'DeploymentStarted', data: d('d-1', 'v1') },
      { type: 'DeploymentHealthy', data: d('d-1', 'v1') },
      { type: 'DeploymentRequested', data: d('d-2', 'v2') },
      { type: 'DeploymentStarted', data: d('d-2', 'v2') },
    ];
    for (const [i, event] of events.entries()) await record(serviceStream(service), event, i);
  };
  return { ids, record, sample, deploy };
}

/** What must not depend on where the run started. */
const verdicts = ({ fromPosition: _f, eventsThisRun: _e, ok: _ok, ...rest }: AuditReport) => rest;

type Step =
  | { kind: 'sample'; service: string; seconds: number; errors: number }
  | { kind: 'other'; type: EventType; service: string; seconds: number; actor: string; cause: number };

const steps = fc.array(
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('sample' as const),
        service: fc.constantFrom('payments', 'orders'),
        seconds: fc.integer({ min: 5, max: 400 }),
        errors: fc.integer({ min: 0, max: 60 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('other' as const),
        type: fc.constantFrom<EventType>(
          'ClockTicked',
          'RollbackDecided',
          'RollbackCompleted',
          'TelemetryStale',
          'TelemetryResumed',
          'ServiceRegistered',
          'DeploymentHealthy',
        ),
        service: fc.constantFrom('payments', 'orders'),
        seconds: fc.integer({ min: 5, max: 400 }),
        actor: fc.constantFrom('test', POLICY_ACTOR, TELEMETRY_ACTOR),
        cause: fc.nat(),
      }),
    },
  ),
  { minLength: 1, maxLength: 40 },
);

async function write(w: ReturnType<typeof writer>, step: Step): Promise<void> {
  if (step.kind === 'sample') {
    await w.record(healthStream(step.service), w.sample(step.service, step.seconds, step.errors), step.seconds);
    return;
  }
  const data: Record<string, unknown> = { ...eventExamples[step.type], service: step.service };
  if (step.type === 'ClockTicked') data.at = new Date(t0 + step.seconds * 1000).toISOString();
  if (step.type === 'ClockTicked') delete data.service;
  const stream = step.type.startsWith('Telemetry') ? `telemetry-${step.service}` : serviceStream(step.service);
  const cause = w.ids[step.cause % w.ids.length];
  await w.record(stream, { type: step.type, data } as DomainEvent, step.seconds, step.actor, cause);
}

describe('incremental audit verify', () => {
  it('gives what a verification from zero gives, whatever the earlier run saw and snapshotted', async () => {
    await fc.assert(
      // readOnceUpTo: the events a run folds read once and kept, or (more of them than that) read twice.
      fc.asyncProperty(steps, steps, fc.integer({ min: 1, max: 9 }), fc.nat(60), async (before, after, every, once) => {
        const store = new MemoryEventStore();
        const snapshots = new MemorySnapshotStore();
        const w = writer(store);
        await w.deploy('payments');
        await w.deploy('orders');
        for (const step of before) await write(w, step);
        const options = { snapshotEvery: every, readOnceUpTo: once };
        const first = await verifyAndRecord(store, defaultRollbackPolicy, snapshots, clock, options);
        expect(first.mode).toBe('full');
        for (const step of after) await write(w, step);
        const fromZero = await verifyDecisions(storeHistory(store), defaultRollbackPolicy);
        const next = await verifyAndRecord(store, defaultRollbackPolicy, snapshots, clock, options);
        expect(verdicts(next.report)).toEqual(verdicts(fromZero));
        // An earlier failure is never forgotten by a run that goes on from it.
        expect(next.report.ok).toBe(fromZero.ok && (next.mode === 'full' || first.report.ok));
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it('folds only the events since the last verification, and records how far it got for auditors', async () => {
    const store = new MemoryEventStore();
    const snapshots = new MemorySnapshotStore();
    const w = writer(store);
    await w.deploy('payments');
    for (let s = 10; s <= 100; s += 10) await w.record(healthStream('payments'), w.sample('payments', s, 1), s);
    const first = await verifyAndRecord(store, defaultRollbackPolicy, snapshots, clock);
    expect(first).toMatchObject({ mode: 'full', why: 'full: no verification recorded yet', report: { ok: true } });
    for (let s = 110; s <= 150; s += 10) await w.record(healthStream('payments'), w.sample('payments', s, 1), s);
    const next = await verifyAndRecord(store, defaultRollbackPolicy, snapshots, clock);
    // The five samples and the first run's own record.
    expect(next.report).toMatchObject({
      eventsThisRun: 6,
      eventsReplayed: 21,
      fromPosition: first.recorded.throughPosition,
    });
    expect(next.why).toMatch(new RegExp(`^incremental from position ${first.recorded.throughPosition}`));
    const recorded = [];
    for await (const e of store.readStream(AUDIT_STREAM)) recorded.push(e.data);
    expect(recorded).toMatchObject([
      { mode: 'full', fromPosition: '-1', throughPosition: '15', eventsVerified: 15, ok: true },
      { mode: 'incremental', fromPosition: '15', throughPosition: '21', eventsThisRun: 6, ok: true },
    ]);
  });

  it('reads the events it folds once when they are few, twice (streamed) when they are more', async () => {
    const store = new MemoryEventStore();
    const snapshots = new MemorySnapshotStore();
    const w = writer(store);
    await w.deploy('payments');
    const first = await verifyDecisions(storeHistory(store), defaultRollbackPolicy, { snapshots });
    for (let s = 10; s <= 100; s += 10) await w.record(healthStream('payments'), w.sample('payments', s, 1), s);
    let read = 0;
    const counted = storeHistory(store);
    const history = {
      ...counted,
      async *readDecoded(from?: bigint) {
        for await (const event of counted.readDecoded(from)) {
          read += 1;
          yield event;
        }
      },
    };
    const resumeAfter = BigInt(first.throughPosition);
    const once = await verifyDecisions(history, defaultRollbackPolicy, { snapshots, resumeAfter });
    expect({ eventsThisRun: once.eventsThisRun, read }).toEqual({ eventsThisRun: 10, read: 10 });
    read = 0;
    const twice = await verifyDecisions(history, defaultRollbackPolicy, { snapshots, resumeAfter, readOnceUpTo: 9 });
    // Ten read before giving up on keeping them (the tenth says there are more than nine), ten for the
    // telemetry decisions, ten to fold.
    expect({ eventsThisRun: twice.eventsThisRun, read }).toEqual({ eventsThisRun: 10, read: 10 + 10 + 10 });
    expect(verdicts(twice)).toEqual(verdicts(once));
  });

  it('verifies everything again when asked, when the policy changed, or when no snapshot is kept', async () => {
    const store = new MemoryEventStore();
    const snapshots = new MemorySnapshotStore();
    const w = writer(store);
    await w.deploy('payments');
    await verifyAndRecord(store, defaultRollbackPolicy, snapshots, clock);
    const asked = await verifyAndRecord(store, defaultRollbackPolicy, snapshots, clock, { fromStart: true });
    expect(asked).toMatchObject({ mode: 'full', why: 'full: asked to verify from the start' });
    const stricter: RollbackPolicy = {
      ...defaultRollbackPolicy,
      rules: {
        ...defaultRollbackPolicy.rules,
        error_rate_critical: { ...defaultRollbackPolicy.rules.error_rate_critical!, threshold: 0.05 },
      },
    };
    const changed = await verifyAndRecord(store, stricter, snapshots, clock);
    expect(changed.mode).toBe('full');
    expect(changed.why).toMatch(/^full: the policy changed since the verification through position 6 /);
    expect((await verifyAndRecord(store, stricter, snapshots, clock)).mode).toBe('incremental');
    const lost = await verifyAndRecord(store, stricter, new MemorySnapshotStore(), clock);
    expect(lost.why).toMatch(/^full: no snapshot kept of the verification through position 8 /);
  });

  it('keeps a failed verification failed until a full run says otherwise', async () => {
    const store = new MemoryEventStore();
    const snapshots = new MemorySnapshotStore();
    const w = writer(store);
    await w.deploy('payments');
    for (let s = 10; s <= 40; s += 10)
      await w.record(healthStream('payments'), w.sample('payments', s, s >= 30 ? 40 : 1), s);
    const first = await verifyAndRecord(store, defaultRollbackPolicy, snapshots, clock);
    expect(first.report.ok).toBe(false);
    const { rollbackId, service, rule } = first.report.missing[0]!;
    // The missing decision, recorded late: a run from zero finds it reproduced and nothing missing.
    await w.record(
      serviceStream('payments'),
      { type: 'RollbackDecided', data: { ...eventExamples.RollbackDecided, rollbackId, service, rule } },
      50,
      POLICY_ACTOR,
    );
    const next = await verifyAndRecord(store, defaultRollbackPolicy, snapshots, clock);
    expect(next.mode).toBe('incremental');
    expect(next.report).toMatchObject({ missing: [], ok: false });
    expect(next.why).toMatch(/that verification failed, and stays failed until a full run \(--from-start\) passes/);
    expect((await verifyAndRecord(store, defaultRollbackPolicy, snapshots, clock)).report.ok).toBe(false);
    expect((await verifyAndRecord(store, defaultRollbackPolicy, snapshots, clock, { fromStart: true })).report.ok).toBe(
      true,
    );
    expect((await verifyAndRecord(store, defaultRollbackPolicy, snapshots, clock)).report).toMatchObject({
      ok: true,
      eventsThisRun: 1,
    });
  });

  it('checks a telemetry decision recorded since, caused before, from an earlier snapshot', async () => {
    const store = new MemoryEventStore();
    const snapshots = new MemorySnapshotStore();
    const w = writer(store);
    const iso = (seconds: number) => new Date(t0 + seconds * 1000).toISOString();
    await w.record(
      serviceStream('orders'),
      { type: 'ServiceRegistered', data: { service: 'orders', source: 'fleet' } },
      0,
    );
    await w.record(healthStream('orders'), w.sample('orders', 10, 0), 10);
    const tick = await w.record(CLOCK_STREAM, { type: 'ClockTicked', data: { at: iso(50) } }, 50);
    await verifyAndRecord(store, defaultRollbackPolicy, snapshots, clock, { snapshotEvery: 1 });
    // Silent for 40 s of 30: the watcher decides on the tick, and records it only after that verification.
    const stale = {
      type: 'TelemetryStale',
      data: {
        service: 'orders',
        lastSampleAt: iso(10),
        silentSince: iso(10),
        staleAfterSeconds: 30,
        detectedAt: iso(50),
      },
    } as const;
    const id = telemetryDecisionId({ service: 'orders', event: stale, expectedRevision: -1 }, tick);
    await store.append(
      telemetryStream('orders'),
      [encodeEvent(stale, { id, actor: TELEMETRY_ACTOR, occurredAt: new Date(t0 + 51_000), causationId: tick })],
      'any',
    );
    const next = await verifyAndRecord(store, defaultRollbackPolicy, snapshots, clock, { snapshotEvery: 1 });
    expect(next).toMatchObject({ mode: 'incremental', report: { ok: true, fromPosition: '2' } });
    expect(next.report.telemetry).toMatchObject([{ eventId: id, reproduced: true }]);
  });
});
