import { setTimeout as sleep } from 'node:timers/promises';
import { handleCommand } from '../application/command-handler.js';
import { drillScheduleDecider, type DrillScheduleCommand } from '../domain/drill-schedule.js';
import { serviceDecider, type ServiceCommand } from '../domain/service-decider.js';
import { drillScheduleStream, drillStream, serviceStream } from '../domain/streams.js';
import type { EventStore } from '../event-store/event-store.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { encodeEvent, type DomainEvent } from '../events/catalogue.js';

/** When the seeded history happens: the rollback's decision, and the drill's slot. */
export const SEEDED = {
  service: 'payments',
  rollbackDecidedAt: Date.parse('2026-11-24T10:00:00Z'),
  /** Request to verification. */
  rollbackSeconds: 95,
  drill: 'dependency-down',
  cron: '0 3 1 * *',
  slot: '2026-11-01T03:00:00.000Z',
  drillFinishedAt: Date.parse('2026-11-01T03:04:00Z'),
  mttdMs: 1_200,
  mttrMs: 4_500,
  /** The slot after `slot`: when the drill is next due. */
  nextDue: Date.parse('2026-12-01T03:00:00Z'),
} as const;

const at = (ms: number) => ({ actor: 'seed', now: new Date(ms) });

/**
 * A history with one finished rollback (requested, approved, run, verified 95 s later) and one
 * passed scheduled drill run, recorded through the deciders and the drill runner's event types.
 */
export async function seedOperationsHistory(store: EventStore): Promise<void> {
  const { service } = SEEDED;
  const t0 = SEEDED.rollbackDecidedAt;
  const run = (command: ServiceCommand, ms: number) =>
    handleCommand(store, serviceStream(service), serviceDecider, command, at(ms));
  await run({ type: 'RegisterService', service, source: 'api' }, t0 - 60_000);
  for (const release of ['v1.0.0', 'v1.1.0']) {
    const deploymentId = `d-${release}`;
    await run({ type: 'RequestDeployment', service, deploymentId, release, now: new Date(t0 - 50_000) }, t0 - 50_000);
    await run({ type: 'StartDeployment', service, deploymentId }, t0 - 40_000);
    await run({ type: 'MarkDeploymentHealthy', service, deploymentId }, t0 - 30_000);
  }
  const rollbackId = 'rb-seeded';
  const request = { service, rollbackId, requestedBy: 'alice', reason: 'P95 above 2 s', targetRelease: 'v1.0.0' };
  await run({ type: 'RequestRollback', ...request }, t0);
  const approver = { id: 'bob', roles: ['approver'] };
  await run(
    { type: 'ApproveRollback', service, rollbackId, approver, now: new Date(t0 + 10_000), validForMs: 600_000 },
    t0 + 10_000,
  );
  await run({ type: 'StartRollback', service, rollbackId, now: new Date(t0 + 20_000) }, t0 + 20_000);
  await run({ type: 'CompleteRollback', service, rollbackId }, t0 + 60_000);
  const checks = [{ name: 'health', passed: true }];
  await run({ type: 'RecordRollbackVerification', service, rollbackId, checks }, t0 + SEEDED.rollbackSeconds * 1000);

  const { drill, slot } = SEEDED;
  const runId = 'run-seeded';
  const claimedAt = Date.parse(slot);
  const schedule = (command: DrillScheduleCommand) =>
    handleCommand(store, drillScheduleStream(drill), drillScheduleDecider, command, at(claimedAt));
  await schedule({ type: 'SetSchedule', drill, cron: SEEDED.cron, at: '2026-10-01T00:00:00.000Z' });
  const leaseUntil = new Date(claimedAt + 120_000).toISOString();
  await schedule({ type: 'ClaimSlot', drill, slot, runId, now: slot, leaseUntil });
  const record = (event: DomainEvent, ms: number) =>
    store.append(drillStream(runId), [encodeEvent(event, { actor: 'seed', occurredAt: new Date(ms) })], 'any');
  await record({ type: 'DrillStarted', data: { runId, drill, trigger: 'schedule', scheduledFor: slot } }, claimedAt);
  const finished = { runId, outcome: 'passed', timeToDetectMs: SEEDED.mttdMs, timeToRecoverMs: SEEDED.mttrMs } as const;
  await record({ type: 'DrillFinished', data: finished }, SEEDED.drillFinishedAt);
  await schedule({ type: 'EndRun', drill, runId });
}

/** A fresh embedded store at `path` holding that history, closed: what serve then opens. */
export async function seedOperationsStore(path: string): Promise<void> {
  const store = SqliteEventStore.open({ path });
  try {
    await seedOperationsHistory(store);
  } finally {
    await store.close();
  }
}

/** Failsafe's /metrics once every read model has caught up with the store (lag 0 each). */
export async function scrapeCaughtUp(url: string, timeoutMs = 10_000): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const text = await (await fetch(`${url}/metrics`)).text();
    const lags = text.split('\n').filter((line) => line.startsWith('failsafe_projection_lag_events{'));
    if (lags.length > 0 && lags.every((line) => line.endsWith(' 0'))) return text;
    if (performance.now() > deadline)
      throw new Error(`read models still lag after ${timeoutMs} ms:\n${lags.join('\n')}`);
    await sleep(50);
  }
}
