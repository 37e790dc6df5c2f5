import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect } from '../src/event-store/event-store.contract.js';
import { SqliteEventStore } from '../src/event-store/sqlite-event-store.js';
import { decodeEvent, encodeEvent, type DomainEvent } from '../src/events/catalogue.js';
import { defaultRollbackPolicy } from '../src/policy/rollback-policy.js';
import { MemoryCheckpointStore } from '../src/runtime/memory-checkpoint-store.js';
import { POLICY_ACTOR, RollbackProcessManager } from './rollback-process-manager.js';

const t0 = Date.UTC(2026, 10, 24, 10);
const at = (seconds: number) => new Date(t0 + seconds * 1000);

async function record(store: SqliteEventStore, stream: string, event: DomainEvent, seconds: number) {
  const encoded = encodeEvent(event, { actor: 'test', occurredAt: at(seconds) });
  await store.append(stream, [encoded], 'any');
  return encoded.id;
}

const sample = (seconds: number, errorRate: number): DomainEvent => ({
  type: 'HealthSampleRecorded',
  data: { service: 'payments', instance: 'p-1', sampledAt: at(seconds).toISOString(), healthy: true, healthLatencyMs: 4, requests: { total: 1000, errors: Math.round(errorRate * 1000) } },
});

async function deployGoodThenBad(store: SqliteEventStore) {
  const d = (id: string, release: string) => ({ deploymentId: id, service: 'payments', release });
  for (const [i, event] of ([
    { type: 'DeploymentRequested', data: d('d-1', 'v1') },
    { type: 'DeploymentStarted', data: d('d-1', 'v1') },
    { type: 'DeploymentHealthy', data: d('d-1', 'v1') },
    { type: 'DeploymentRequested', data: d('d-2', 'v2') },
    { type: 'DeploymentStarted', data: d('d-2', 'v2') },
  ] as DomainEvent[]).entries()) {
    await record(store, 'service-payments', event, i);
  }
}

const decisions = async (store: SqliteEventStore) =>
  (await collect(store.readStream('service-payments'))).filter((e) => e.type === 'RollbackDecided').map(decodeEvent);

describe('rollback process manager', () => {
  let dir: string;
  let store: SqliteEventStore;
  let managers: RollbackProcessManager[];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-pm-'));
    store = SqliteEventStore.open({ path: join(dir, 'events.db'), livePollIntervalMs: 20 });
    managers = [];
  });
  afterEach(async () => {
    await Promise.all(managers.map((m) => m.stop()));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const startManager = async (options: { actOnHistory?: boolean } = {}, checkpoints = new MemoryCheckpointStore()) => {
    const manager = new RollbackProcessManager(store, defaultRollbackPolicy, checkpoints, options);
    managers.push(manager);
    await manager.start();
    return manager;
  };

  it('records one decision with its evidence, its cause and the last known good release', async () => {
    const manager = await startManager();
    await deployGoodThenBad(store);
    const ids: string[] = [];
    for (let s = 10; s <= 70; s += 10) ids.push(await record(store, 'health-payments', sample(s, 0.3), s));
    await manager.catchUp();
    const [decided, ...more] = await decisions(store);
    expect(more).toEqual([]);
    expect(decided).toMatchObject({
      type: 'RollbackDecided',
      data: { service: 'payments', mode: 'automatic', rule: 'error_rate_critical', threshold: 0.1, observed: 0.3, targetRelease: 'v1', severity: 'P1', evidenceEventIds: [ids[0]] },
      metadata: { actor: POLICY_ACTOR, causationId: ids[0] },
    });
  });

  it('decides once even with two process managers racing on one store, and a replay from zero adds nothing', async () => {
    await Promise.all([startManager(), startManager()]);
    await deployGoodThenBad(store);
    for (let s = 10; s <= 120; s += 10) await record(store, 'health-payments', sample(s, 0.4), s);
    await Promise.all(managers.map((m) => m.catchUp()));
    expect(await decisions(store)).toHaveLength(1);

    const replaying = await startManager({ actOnHistory: true });
    await replaying.catchUp();
    expect(await decisions(store)).toHaveLength(1);
  });

  it('resumes from its checkpoint after a restart without deciding again', async () => {
    const checkpoints = new MemoryCheckpointStore();
    const first = await startManager({}, checkpoints);
    await deployGoodThenBad(store);
    for (let s = 10; s <= 40; s += 10) await record(store, 'health-payments', sample(s, 0.5), s);
    await first.catchUp();
    await first.stop();
    managers = [];
    for (let s = 50; s <= 80; s += 10) await record(store, 'health-payments', sample(s, 0.5), s);
    const second = await startManager({}, checkpoints);
    await second.catchUp();
    expect(await decisions(store)).toHaveLength(1);
  });

  it('rebuilds silently from a checkpoint of an older fold, deciding from the next event on', async () => {
    await deployGoodThenBad(store);
    for (let s = 10; s <= 70; s += 10) await record(store, 'health-payments', sample(s, 0.3), s);
    const checkpoints = new MemoryCheckpointStore();
    await checkpoints.save('rollback-decisions', { position: 3n, version: 1, state: {} });
    const manager = await startManager({}, checkpoints);
    await manager.catchUp();
    expect(await decisions(store)).toEqual([]);
    await record(store, 'health-payments', sample(80, 0.3), 80);
    await manager.catchUp();
    expect(await decisions(store)).toHaveLength(1);
  });

  it('replaces a manual decision still awaiting approval when an automatic rule fires', async () => {
    const manager = await startManager();
    await deployGoodThenBad(store);
    const slow = (s: number, errors: number): DomainEvent => ({
      type: 'HealthSampleRecorded',
      data: { service: 'payments', instance: 'p-1', sampledAt: at(s).toISOString(), healthy: true, healthLatencyMs: 4, requests: { total: 100, errors }, latencyMs: { p50: 900, p95: 2500, p99: 3000 } },
    });
    for (let s = 10; s <= 320; s += 10) await record(store, 'health-payments', slow(s, 0), s);
    await manager.catchUp();
    expect((await decisions(store)).map((d) => d.data)).toMatchObject([{ rule: 'performance_degradation', mode: 'manual' }]);
    await record(store, 'health-payments', slow(330, 100), 330);
    await manager.catchUp();
    const stream = (await collect(store.readStream('service-payments'))).map(decodeEvent).slice(-3);
    expect(stream.map((e) => e.type)).toEqual(['RollbackDecided', 'RollbackRejected', 'RollbackDecided']);
    expect(stream[1]!.data).toMatchObject({ rollbackId: (stream[0]!.data as { rollbackId: string }).rollbackId, reason: expect.stringMatching(/superseded by automatic rollback/) });
    expect(stream[2]!.data).toMatchObject({ rule: 'error_rate_critical', mode: 'automatic', targetRelease: 'v1' });
  });

  it('still decides when the serving release fails after a deployment that failed', async () => {
    const manager = await startManager();
    const d = (id: string, release: string) => ({ deploymentId: id, service: 'payments', release });
    const history: DomainEvent[] = [
      { type: 'DeploymentRequested', data: d('d-1', 'v1') },
      { type: 'DeploymentStarted', data: d('d-1', 'v1') },
      { type: 'DeploymentHealthy', data: d('d-1', 'v1') },
      { type: 'DeploymentRequested', data: d('d-2', 'v2') },
      { type: 'DeploymentStarted', data: d('d-2', 'v2') },
      { type: 'DeploymentHealthy', data: d('d-2', 'v2') },
      { type: 'DeploymentRequested', data: d('d-3', 'v3') },
      { type: 'DeploymentStarted', data: d('d-3', 'v3') },
      { type: 'DeploymentFailed', data: { ...d('d-3', 'v3'), reason: 'exited before it was ready' } },
    ];
    for (const [i, event] of history.entries()) await record(store, 'service-payments', event, i);
    const ofV2 = (s: number): DomainEvent => {
      const event = sample(s, 0.3);
      return { ...event, data: { ...event.data, release: 'v2' } } as DomainEvent;
    };
    for (let s = 10; s <= 70; s += 10) await record(store, 'health-payments', ofV2(s), s);
    await manager.catchUp();
    expect((await decisions(store)).map((e) => e.data)).toMatchObject([
      { rule: 'error_rate_critical', mode: 'automatic', targetRelease: 'v1' },
    ]);
  });

  it('decides again for a new failure after the rollback completed', async () => {
    const manager = await startManager();
    await deployGoodThenBad(store);
    for (let s = 10; s <= 30; s += 10) await record(store, 'health-payments', sample(s, 0.5), s);
    await manager.catchUp();
    const [first] = await decisions(store);
    const rollbackId = (first!.data as { rollbackId: string }).rollbackId;
    await record(store, 'service-payments', { type: 'RollbackStarted', data: { rollbackId, service: 'payments', fromRelease: 'v2', toRelease: 'v1' } }, 40);
    await record(store, 'service-payments', { type: 'RollbackCompleted', data: { rollbackId, service: 'payments', release: 'v1' } }, 50);
    for (let s = 60; s <= 100; s += 10) await record(store, 'health-payments', sample(s, 0.0), s);
    for (let s = 110; s <= 150; s += 10) await record(store, 'health-payments', sample(s, 0.5), s);
    await manager.catchUp();
    expect((await decisions(store)).map((d) => d.data)).toHaveLength(2);
  });
});
