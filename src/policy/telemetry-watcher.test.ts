import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RollbackProcessManager } from './rollback-process-manager.js';
import { incidentReview } from '../api/incident-review.js';
import { replayAt } from '../audit/replay-at.js';
import { verifyDecisions } from '../audit/verify-decisions.js';
import { storeHistory } from '../audit/store-history.js';
import { collect } from '../event-store/event-store.contract.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { decodeEvent, encodeEvent, type DomainEvent, type TypedRecordedEvent } from '../events/catalogue.js';
import { MemoryCheckpointStore } from '../runtime/memory-checkpoint-store.js';
import { defaultRollbackPolicy } from './rollback-policy.js';
import {
  TELEMETRY_ACTOR,
  TelemetryWatcher,
  telemetryDecisionId,
  telemetryWatchProjection,
} from './telemetry-watcher.js';
import { telemetryStream } from '../domain/streams.js';

const t0 = Date.UTC(2026, 10, 24, 10);
const at = (seconds: number) => new Date(t0 + seconds * 1000);
const settings = { services: ['orders'], staleAfterSeconds: 30 };

const sample = (seconds: number, errorRate: number, healthy = true): DomainEvent => ({
  type: 'HealthSampleRecorded',
  data: {
    service: 'orders',
    instance: 'o-1',
    sampledAt: at(seconds).toISOString(),
    healthy,
    healthLatencyMs: 4,
    requests: { total: 1000, errors: Math.round(errorRate * 1000) },
  },
});

describe('telemetry watcher', () => {
  let dir: string;
  let store: SqliteEventStore;
  let running: { stop(): Promise<void> }[];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-stale-watch-'));
    store = SqliteEventStore.open({ path: join(dir, 'events.db'), livePollIntervalMs: 20 });
    running = [];
  });
  afterEach(async () => {
    await Promise.all(running.map((r) => r.stop()));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const record = async (stream: string, event: DomainEvent, seconds: number) => {
    await store.append(stream, [encodeEvent(event, { actor: 'test', occurredAt: at(seconds) })], 'any');
  };
  const tick = (seconds: number) =>
    record('clock', { type: 'ClockTicked', data: { at: at(seconds).toISOString() } }, seconds);
  const start = async <T extends { start(): Promise<void>; stop(): Promise<void> }>(part: T): Promise<T> => {
    running.push(part);
    await part.start();
    return part;
  };
  const recorded = async (stream: string) => (await collect(store.readStream(stream))).map(decodeEvent);
  const all = async () => (await collect(store.readAll())).map(decodeEvent);

  /** v1 good, v2 deployed and answering: what a rollback would act on, were the policy to decide one. */
  async function deployed() {
    await record('service-orders', { type: 'ServiceRegistered', data: { service: 'orders', source: 'fleet' } }, 0);
    const d = (id: string, release: string) => ({ deploymentId: id, service: 'orders', release });
    const steps: DomainEvent[] = [
      { type: 'DeploymentRequested', data: d('d-1', 'v1') },
      { type: 'DeploymentStarted', data: d('d-1', 'v1') },
      { type: 'DeploymentHealthy', data: d('d-1', 'v1') },
      { type: 'DeploymentRequested', data: d('d-2', 'v2') },
      { type: 'DeploymentStarted', data: d('d-2', 'v2') },
    ];
    for (const step of steps) await record('service-orders', step, 1);
  }

  it('never rolls back on missing data alone, records the staleness once with two watchers, then judges', async () => {
    const policy = await start(new RollbackProcessManager(store, defaultRollbackPolicy, new MemoryCheckpointStore()));
    const watchers = [
      await start(new TelemetryWatcher(store, settings, new MemoryCheckpointStore())),
      await start(new TelemetryWatcher(store, settings, new MemoryCheckpointStore())),
    ];
    await deployed();
    // The last samples before the silence fail their health check: still no reason to roll back.
    for (let s = 10; s <= 60; s += 10) await record('health-orders', sample(s, 0, s < 50), s);
    for (let s = 70; s <= 1200; s += 10) await tick(s);
    await policy.catchUp();
    await Promise.all(watchers.map((w) => w.catchUp()));

    const decisions = async () => (await recorded('service-orders')).filter((e) => e.type === 'RollbackDecided');
    expect(await decisions()).toEqual([]);
    const [stale, ...more] = await recorded(telemetryStream('orders'));
    expect(more).toEqual([]);
    expect(stale).toMatchObject({
      type: 'TelemetryStale',
      data: {
        service: 'orders',
        lastSampleAt: at(60).toISOString(),
        silentSince: at(60).toISOString(),
        staleAfterSeconds: 30,
        detectedAt: at(100).toISOString(),
      },
      metadata: { actor: TELEMETRY_ACTOR },
    });
    expect(watchers.map((w) => w.staleness())).toEqual([{ orders: true }, { orders: true }]);

    // Bad samples arrive: the telemetry is fresh again and the normal rules fire on the data.
    for (let s = 1210; s <= 1230; s += 10) await record('health-orders', sample(s, 0.5), s);
    await policy.catchUp();
    await Promise.all(watchers.map((w) => w.catchUp()));
    expect((await decisions()).map((e) => e.data)).toMatchObject([{ rule: 'error_rate_critical', mode: 'automatic' }]);
    expect((await recorded(telemetryStream('orders'))).map((e) => [e.type, e.data])).toEqual([
      ['TelemetryStale', stale!.data],
      ['TelemetryResumed', { service: 'orders', staleSince: at(100).toISOString(), resumedAt: at(1210).toISOString() }],
    ]);
    expect(watchers[0]!.staleness()).toEqual({ orders: false });

    // An auditor's replay of the policy still agrees with every recorded decision.
    const audit = await verifyDecisions(storeHistory(store), defaultRollbackPolicy);
    expect(audit.ok).toBe(true);
    expect(audit.telemetry.map((t) => [t.type, t.reproduced])).toEqual([
      ['TelemetryStale', true],
      ['TelemetryResumed', true],
    ]);
    // Where incidents show (state_at, replay --at, the post-incident review), the outage is one, over.
    const incidents = Object.values((await replayAt(storeHistory(store), at(1300))).incidents.incidents);
    expect(incidents.map((i) => [i.rule, i.severity, i.status])).toEqual([
      ['telemetry_stale', 'P2', 'resolved'],
      ['error_rate_critical', 'P1', 'open'],
    ]);
    const history = await all();
    const review = incidentReview(
      incidents[0]!,
      incidents[0]!.eventIds.map((id) => history.find((e) => e.id === id)!),
    );
    expect(review).toContain('Incident detected: no telemetry from orders since 2026-11-24T10:01:00.000Z');
    expect(review).toContain('Telemetry resumed: samples from orders arrive again');
  });

  it('decides the same again when the history is replayed: the recorded events, at the same events', async () => {
    await start(new TelemetryWatcher(store, settings, new MemoryCheckpointStore()));
    const watcher = running[0] as TelemetryWatcher;
    await record('service-orders', { type: 'ServiceRegistered', data: { service: 'orders', source: 'fleet' } }, 0);
    // Two outages, the first before any sample ever arrived.
    for (let s = 10; s <= 50; s += 10) await tick(s);
    for (let s = 60; s <= 100; s += 10) await record('health-orders', sample(s, 0), s);
    for (let s = 110; s <= 200; s += 10) await tick(s);
    await record('health-orders', sample(205, 0), 205);
    await watcher.catchUp();
    const live = await recorded(telemetryStream('orders'));
    expect(live.map((e) => e.type)).toEqual([
      'TelemetryStale',
      'TelemetryResumed',
      'TelemetryStale',
      'TelemetryResumed',
    ]);

    expect(replayedDecisions(await all()).map((d) => d.eventId)).toEqual(live.map((e) => e.id));
    const restarted = await start(new TelemetryWatcher(store, settings, new MemoryCheckpointStore()));
    await restarted.catchUp();
    expect(await recorded(telemetryStream('orders'))).toHaveLength(4);
  });
});

describe('audit verify of telemetry decisions', () => {
  let dir: string;
  let store: SqliteEventStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-stale-audit-'));
    store = SqliteEventStore.open({ path: join(dir, 'events.db'), livePollIntervalMs: 20 });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds a staleness recorded before the silence had lasted long enough not reproduced', async () => {
    const record = async (stream: string, event: DomainEvent, seconds: number, extra = {}) => {
      const encoded = encodeEvent(event, { actor: 'test', occurredAt: at(seconds), ...extra });
      await store.append(stream, [encoded], 'any');
      return encoded.id;
    };
    await record('service-orders', { type: 'ServiceRegistered', data: { service: 'orders', source: 'fleet' } }, 0);
    await record('health-orders', sample(10, 0), 10);
    const tick = await record('clock', { type: 'ClockTicked', data: { at: at(20).toISOString() } }, 20);
    const data = {
      service: 'orders',
      lastSampleAt: at(10).toISOString(),
      silentSince: at(10).toISOString(),
      staleAfterSeconds: 30,
      detectedAt: at(20).toISOString(),
    };
    // As the watcher would write it (its id, actor and cause), but 10 s into a silence of 30: never decided.
    const forged = { type: 'TelemetryStale', data } as const;
    await record(telemetryStream('orders'), forged, 20, {
      id: telemetryDecisionId({ service: 'orders', event: forged, expectedRevision: -1 }, tick),
      actor: TELEMETRY_ACTOR,
      causationId: tick,
    });
    const audit = await verifyDecisions(storeHistory(store), defaultRollbackPolicy);
    expect(audit.telemetry).toMatchObject([{ type: 'TelemetryStale', service: 'orders', reproduced: false }]);
    expect(audit.ok).toBe(false);
  });
});

/** The decisions a live watcher would have recorded: the first one made against each revision of a stream. */
function replayedDecisions(history: readonly TypedRecordedEvent[]) {
  const projection = telemetryWatchProjection(settings);
  const seen = new Set<string>();
  const decided = [];
  let state = projection.initialState;
  for (const event of history) {
    state = projection.apply(state, event);
    for (const decision of state.decisions) {
      const slot = `${decision.service}@${decision.expectedRevision}`;
      if (seen.has(slot)) continue;
      seen.add(slot);
      decided.push(decision);
    }
  }
  return decided;
}
