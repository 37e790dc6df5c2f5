import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect } from '../event-store/event-store.contract.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { decodeEvent, encodeEvent, type DomainEvent } from '../events/catalogue.js';
import { defaultRollbackPolicy } from './rollback-policy.js';
import { MemoryCheckpointStore } from '../runtime/memory-checkpoint-store.js';
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
  data: {
    service: 'payments',
    instance: 'p-1',
    sampledAt: at(seconds).toISOString(),
    healthy: true,
    healthLatencyMs: 4,
    requests: { total: 1000, errors: Math.round(errorRate * 1000) },
  },
});

async function deployGoodThenBad(store: SqliteEventStore) {
  const d = (id: string, release: string) => ({ deploymentId: id, service: 'payments', release });
  for (const [i, event] of (
    [
      { type: 'DeploymentRequested', data: d('d-1', 'v1') },
      { type: 'DeploymentStarted', data: d('d-1', 'v1') },
      { type: 'DeploymentHealthy', data: d('d-1', 'v1') },
      { type: 'DeploymentRequested', data: d('d-2', 'v2') },
      { type: 'DeploymentStarted', data: d('d-2', 'v2') },
    ] as DomainEvent[]
  ).entries()) {
    await record(store, 'service-payments', event, i);
  }
}

/** What the executor records when it has rolled payments back to v1. */
async function rolledBackToV1(store: SqliteEventStore, rollbackId: string) {
  const rollback = { rollbackId, service: 'payments' };
  const started = { type: 'RollbackStarted', data: { ...rollback, fromRelease: 'v2', toRelease: 'v1' } } as const;
  await record(store, 'service-payments', started, 40);
  await record(store, 'service-payments', { type: 'RollbackCompleted', data: { ...rollback, release: 'v1' } }, 50);
}

type Checks = { name: string; passed: boolean; detail?: string }[];
const failedVerification = (rollbackId: string, checks: Checks): DomainEvent => ({
  type: 'RollbackVerified',
  data: { rollbackId, service: 'payments', passed: false, checks },
});

const decisions = async (store: SqliteEventStore) =>
  (await collect(store.readStream('service-payments'))).filter((e) => e.type === 'RollbackDecided').map(decodeEvent);

/** v1 good, v2 failing: the policy decides, and the executor's rollback to v1 is recorded. The rollback's id. */
async function decidedThenRolledBack(store: SqliteEventStore, manager: RollbackProcessManager): Promise<string> {
  await deployGoodThenBad(store);
  for (let s = 10; s <= 30; s += 10) await record(store, 'health-payments', sample(s, 0.5), s);
  await manager.catchUp();
  const rollbackId = ((await decisions(store))[0]!.data as { rollbackId: string }).rollbackId;
  await rolledBackToV1(store, rollbackId);
  return rollbackId;
}

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
      data: {
        service: 'payments',
        mode: 'automatic',
        rule: 'error_rate_critical',
        threshold: 0.1,
        observed: 0.3,
        targetRelease: 'v1',
        severity: 'P1',
        evidenceEventIds: [ids[0]],
      },
      metadata: { actor: POLICY_ACTOR, causationId: ids[0] },
    });
  });

  it('decides once with two process managers racing on one store, and a replay from zero adds nothing', async () => {
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
      data: {
        service: 'payments',
        instance: 'p-1',
        sampledAt: at(s).toISOString(),
        healthy: true,
        healthLatencyMs: 4,
        requests: { total: 100, errors },
        latencyMs: { p50: 900, p95: 2500, p99: 3000 },
      },
    });
    for (let s = 10; s <= 320; s += 10) await record(store, 'health-payments', slow(s, 0), s);
    await manager.catchUp();
    expect((await decisions(store)).map((d) => d.data)).toMatchObject([
      { rule: 'performance_degradation', mode: 'manual' },
    ]);
    await record(store, 'health-payments', slow(330, 100), 330);
    await manager.catchUp();
    const stream = (await collect(store.readStream('service-payments'))).map(decodeEvent).slice(-3);
    expect(stream.map((e) => e.type)).toEqual(['RollbackDecided', 'RollbackRejected', 'RollbackDecided']);
    expect(stream[1]!.data).toMatchObject({
      rollbackId: (stream[0]!.data as { rollbackId: string }).rollbackId,
      reason: expect.stringMatching(/superseded by automatic rollback/),
    });
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

  it('escalates, in the same append, a decision with nothing to roll back to: it never stays decided', async () => {
    const manager = await startManager();
    await decidedThenRolledBack(store, manager);
    for (let s = 60; s <= 100; s += 10) await record(store, 'health-payments', sample(s, 0.0), s);
    for (let s = 110; s <= 150; s += 10) await record(store, 'health-payments', sample(s, 0.5), s);
    await manager.catchUp();
    const stream = await collect(store.readStream('service-payments'));
    const [decided, escalated] = stream.slice(-2).map(decodeEvent);
    expect(decided).toMatchObject({ type: 'RollbackDecided', data: { rule: 'error_rate_critical' } });
    const { rollbackId: second, targetRelease } = decided!.data as { rollbackId: string; targetRelease?: string };
    expect(targetRelease).toBeUndefined();
    expect(escalated).toMatchObject({
      type: 'RollbackEscalated',
      data: { rollbackId: second, severity: 'P1', reason: expect.stringMatching(/nothing to roll back to: .* v1 /) },
      metadata: { actor: POLICY_ACTOR, causationId: decided!.metadata.causationId },
    });
    // One append: both at the revision the policy observed, one after the other, recorded together.
    expect(stream.at(-1)!.revision).toBe(stream.at(-2)!.revision + 1n);
    expect(stream.at(-1)!.position).toBe(stream.at(-2)!.position + 1n);
    // Still failing, nothing more is decided (the rule stays latched) and nothing waits on an executor.
    for (let s = 160; s <= 200; s += 10) await record(store, 'health-payments', sample(s, 0.5), s);
    await manager.catchUp();
    expect(await decisions(store)).toHaveLength(2);
  });

  it('escalates a rollback whose verification failed, P0 when the restored release fails health checks', async () => {
    const manager = await startManager();
    const rollbackId = await decidedThenRolledBack(store, manager);
    const checks = [
      { name: 'health:p-1', passed: false, detail: '1 of 3 /health probes answered 200 over 10.0 s' },
      { name: 'tools:p-1', passed: true },
    ];
    const verifiedId = await record(store, 'service-payments', failedVerification(rollbackId, checks), 60);
    await manager.catchUp();
    const last = decodeEvent((await collect(store.readStream('service-payments'))).at(-1)!);
    expect(last).toMatchObject({
      type: 'RollbackEscalated',
      data: {
        rollbackId,
        severity: 'P0',
        reason: expect.stringMatching(/verification failed: health:p-1 \(1 of 3 .*v1 did not bring payments back/),
      },
      metadata: { actor: POLICY_ACTOR, causationId: verifiedId },
    });
  });

  it('still escalates a failed verification when the service stream moved on before the policy acted', async () => {
    const checkpoints = new MemoryCheckpointStore();
    const first = await startManager({}, checkpoints);
    await deployGoodThenBad(store);
    for (let s = 10; s <= 30; s += 10) await record(store, 'health-payments', sample(s, 0.5), s);
    await first.catchUp();
    await first.stop();
    managers = [];
    const rollbackId = ((await decisions(store))[0]!.data as { rollbackId: string }).rollbackId;
    await rolledBackToV1(store, rollbackId);
    const checks = [{ name: 'error_rate:p-1', passed: false, detail: '40.0 % of 100 tool calls failed' }];
    await record(store, 'service-payments', failedVerification(rollbackId, checks), 60);
    // A person acts on the service before the policy, stopped meanwhile, has seen the failed verification.
    const refundOff = { service: 'payments', scope: 'tool', target: 'refund' } as const;
    await record(store, 'service-payments', { type: 'FeatureDisabled', data: refundOff }, 70);
    const second = await startManager({}, checkpoints);
    await second.catchUp();
    const last = decodeEvent((await collect(store.readStream('service-payments'))).at(-1)!);
    expect(last).toMatchObject({ type: 'RollbackEscalated', data: { rollbackId, severity: 'P1' } });
    expect(last.metadata.actor).toBe(POLICY_ACTOR);
  });

  it('decides again for a new failure after the rollback completed', async () => {
    const manager = await startManager();
    await decidedThenRolledBack(store, manager);
    for (let s = 60; s <= 100; s += 10) await record(store, 'health-payments', sample(s, 0.0), s);
    for (let s = 110; s <= 150; s += 10) await record(store, 'health-payments', sample(s, 0.5), s);
    await manager.catchUp();
    expect((await decisions(store)).map((d) => d.data)).toHaveLength(2);
  });
});
