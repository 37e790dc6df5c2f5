import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RollbackProcessManager } from '../policy/rollback-process-manager.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { encodeEvent, type DomainEvent } from '../events/catalogue.js';
import { defaultRollbackPolicy } from '../policy/rollback-policy.js';
import { MemoryCheckpointStore } from '../runtime/memory-checkpoint-store.js';
import { archivedHistory } from './archived-history.js';
import { explainDecision } from './explain-decision.js';
import type { History } from './history.js';
import { replayAt, type StateAt } from './replay-at.js';
import { verifyDecisions } from './verify-decisions.js';
import { CLOCK_STREAM, healthStream } from '../domain/streams.js';

const t0 = Date.UTC(2026, 11, 1, 3);
const at = (seconds: number) => new Date(t0 + seconds * 1000);

describe('auditing a history that retention trimmed', () => {
  let dir: string;
  let store: SqliteEventStore;
  let history: History;
  let manager: RollbackProcessManager;

  /** Records events at `seconds` in one append, as the prober records a round. */
  const record = async (stream: string, events: DomainEvent | DomainEvent[], seconds: number) => {
    const encoded = [events].flat().map((event) => encodeEvent(event, { actor: 'test', occurredAt: at(seconds) }));
    await store.append(stream, encoded, 'any');
    // The live policy judges everything long before retention trims it.
    await manager.catchUp();
  };
  const sample = (service: string, seconds: number, errors: number): DomainEvent => ({
    type: 'HealthSampleRecorded',
    data: {
      service,
      instance: `${service}-1`,
      sampledAt: at(seconds).toISOString(),
      healthy: true,
      healthLatencyMs: 4,
      requests: { total: 100, errors },
    },
  });
  const tick = (seconds: number): DomainEvent => ({ type: 'ClockTicked', data: { at: at(seconds).toISOString() } });
  const deploy = async (service: string, seconds: number) => {
    const d = (id: string, release: string) => ({ deploymentId: `${service}-${id}`, service, release });
    const events: DomainEvent[] = [
      { type: 'DeploymentRequested', data: d('d-1', 'v1') },
      { type: 'DeploymentStarted', data: d('d-1', 'v1') },
      { type: 'DeploymentHealthy', data: d('d-1', 'v1') },
      { type: 'DeploymentRequested', data: d('d-2', 'v2') },
      { type: 'DeploymentStarted', data: d('d-2', 'v2') },
    ];
    for (const event of events) await record(`service-${service}`, event, seconds);
  };
  const decisions = async () => {
    await manager.catchUp();
    return manager.current()!.services.services;
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-audit-retention-'));
    store = SqliteEventStore.open({ path: join(dir, 'events.db') });
    history = archivedHistory(store, store.archive);
    for (const service of ['payments', 'search']) {
      await store.setStreamMetadata(healthStream(service), { maxCount: 50 });
    }
    await store.setStreamMetadata(CLOCK_STREAM, { maxCount: 50 });
    manager = new RollbackProcessManager(store, defaultRollbackPolicy, new MemoryCheckpointStore());
    await manager.start();
  });
  afterEach(async () => {
    await manager.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // Several hundred durable appends: slow disks need more than the default time.
  it('reproduces every decision, explains its evidence and replays early instants', { timeout: 90_000 }, async () => {
    // An error-rate incident on payments: 100 good samples, then three bad ones; the rollback runs.
    await deploy('payments', 0);
    let early: StateAt | undefined;
    for (let s = 10; s <= 1030; s += 10) {
      await record(healthStream('payments'), sample('payments', s, s > 1000 ? 30 : 1), s);
      if (s === 300) early = await replayAt(history, at(300));
    }
    const incident = (await decisions()).payments!.rollback!;
    expect(incident).toMatchObject({ status: 'decided' });
    const rollback = { rollbackId: incident.id, service: 'payments' };
    const started = { ...rollback, fromRelease: 'v2', toRelease: 'v1' };
    await record('service-payments', { type: 'RollbackStarted', data: started }, 1040);
    await record('service-payments', { type: 'RollbackCompleted', data: { ...rollback, release: 'v1' } }, 1050);

    // A migration that stops moving: the recorded clock decides it stalled an hour later. Search breaks meanwhile.
    await deploy('search', 1060);
    const migration = { migrationId: 'm-1', service: 'payments' };
    const stages = { name: 'apil', stages: ['legacy', 'dual'], initialStage: 'legacy' };
    await record('migration-m-1', { type: 'MigrationStarted', data: { ...migration, ...stages } }, 1100);
    const advanced = { ...migration, fromStage: 'legacy', toStage: 'dual' };
    await record('migration-m-1', { type: 'MigrationStageAdvanced', data: advanced }, 1110);
    for (let s = 1120; s <= 1120 + 2 * 3600; s += 60) {
      await record(
        healthStream('payments'),
        [0, 20, 40].map((k) => sample('payments', s + k, 1)),
        s,
      );
      const searchErrors = s >= 2000 && s < 2200 ? 40 : 1;
      if (s < 2400)
        await record(
          healthStream('search'),
          [0, 30].map((k) => sample('search', s + k, searchErrors)),
          s,
        );
      await record(CLOCK_STREAM, tick(s + 59), s + 59);
    }
    const stall = (await decisions()).payments!.rollback!;
    expect(stall).toMatchObject({ status: 'awaiting_approval' });
    const searchIncident = (await decisions()).search!.rollback!;

    const report = await verifyDecisions(history, defaultRollbackPolicy);
    expect(report.recorded.map((r) => [r.rollbackId, r.rule, r.reproduced])).toEqual([
      [incident.id, 'error_rate_critical', true],
      [searchIncident.id, 'error_rate_critical', true],
      [stall.id, 'migration_stalled', true],
    ]);
    expect(report).toMatchObject({ ok: true, missing: [] });

    const explained = await explainDecision(history, incident.id);
    const evidenceIds = explained.decision.data.evidenceEventIds;
    // The evidence left the live store long ago: it is read back from the archive.
    for (const id of evidenceIds) expect(await store.readEvent(id)).toBeUndefined();
    expect(explained.missingEvidence).toEqual([]);
    expect(explained.evidence.map((e) => e.id)).toEqual(evidenceIds);
    expect(explained.evidence.map((e) => e.type)).toEqual(evidenceIds.map(() => 'HealthSampleRecorded'));
    expect(explained.causation[0]!.id).toBe(evidenceIds[evidenceIds.length - 1]);
    expect(explained.lifecycle.map((e) => e.type)).toEqual(['RollbackStarted', 'RollbackCompleted']);

    const stalled = await explainDecision(history, stall.id);
    expect(stalled.missingEvidence).toEqual([]);
    expect(stalled.evidence.map((e) => e.type)).toEqual(['MigrationStageAdvanced', 'ClockTicked']);
    expect(await store.readEvent(stalled.evidence[1]!.id)).toBeUndefined();

    expect(await replayAt(history, at(300))).toEqual(early);
    expect(readdirSync(`${store.path}.archive`).length).toBeGreaterThan(3);
  });
});
