import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RollbackProcessManager } from '../policy/rollback-process-manager.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { encodeEvent, type DomainEvent } from '../events/catalogue.js';
import { defaultRollbackPolicy, type RollbackPolicy } from '../policy/rollback-policy.js';
import { MemoryCheckpointStore } from '../runtime/memory-checkpoint-store.js';
import { archivedHistory } from './archived-history.js';
import { alertEventId } from '../alerts/alertmanager-notification.js';
import { ALERT_STREAM } from '../domain/streams.js';
import { DecisionNotFound, explainDecision } from './explain-decision.js';
import type { History } from './history.js';
import { replayAt } from './replay-at.js';
import { verifyDecisions } from './verify-decisions.js';

const t0 = Date.UTC(2026, 11, 1, 3);
const at = (seconds: number) => new Date(t0 + seconds * 1000);

describe('auditing the history', () => {
  let dir: string;
  let store: SqliteEventStore;
  let history: History;
  const record = async (stream: string, event: DomainEvent, seconds: number, causationId?: string) => {
    const encoded = encodeEvent(event, {
      actor: 'prober',
      occurredAt: at(seconds),
      ...(causationId && { causationId }),
    });
    await store.append(stream, [encoded], 'any');
    return encoded.id;
  };
  const sample = (seconds: number, errors: number): DomainEvent => ({
    type: 'HealthSampleRecorded',
    data: {
      service: 'payments',
      instance: 'p-1',
      sampledAt: at(seconds).toISOString(),
      healthy: true,
      healthLatencyMs: 4,
      requests: { total: 100, errors },
    },
  });
  const deploy = async () => {
    const d = (id: string, release: string) => ({ deploymentId: id, service: 'payments', release });
    const events: DomainEvent[] = [
      { type: 'DeploymentRequested', data: d('d-1', 'v1') },
      { type: 'DeploymentStarted', data: d('d-1', 'v1') },
      { type: 'DeploymentHealthy', data: d('d-1', 'v1') },
      { type: 'DeploymentRequested', data: d('d-2', 'v2') },
      { type: 'DeploymentStarted', data: d('d-2', 'v2') },
    ];
    for (const [i, event] of events.entries()) await record('service-payments', event, i);
  };
  /** A live process manager watches a bad release fail; returns the recorded rollback id. */
  const incident = async (): Promise<string> => {
    const manager = new RollbackProcessManager(store, defaultRollbackPolicy, new MemoryCheckpointStore());
    await manager.start();
    await deploy();
    for (let s = 10; s <= 60; s += 10) await record('health-payments', sample(s, s >= 30 ? 30 : 1), s);
    await manager.catchUp();
    await manager.stop();
    const report = await verifyDecisions(history, defaultRollbackPolicy);
    return report.recorded[0]!.rollbackId;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-audit-'));
    store = SqliteEventStore.open({ path: join(dir, 'events.db') });
    history = archivedHistory(store, store.archive);
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reproduces every recorded decision with the policy that made it', async () => {
    await incident();
    const report = await verifyDecisions(history, defaultRollbackPolicy);
    expect(report).toMatchObject({
      ok: true,
      missing: [],
      recorded: [{ service: 'payments', rule: 'error_rate_critical', reproduced: true }],
    });
    expect(report.eventsReplayed).toBe(12);
  });

  it('flags a recorded decision that another policy would not have made', async () => {
    await incident();
    const lenient: RollbackPolicy = {
      ...defaultRollbackPolicy,
      rules: {
        ...defaultRollbackPolicy.rules,
        error_rate_critical: { ...defaultRollbackPolicy.rules.error_rate_critical!, threshold: 0.5 },
      },
    };
    const report = await verifyDecisions(history, lenient);
    expect(report.ok).toBe(false);
    expect(report.recorded).toMatchObject([{ rule: 'error_rate_critical', reproduced: false }]);
  });

  it('lists a decision the policy would have made but nobody recorded', async () => {
    await deploy();
    let tipping = '';
    for (let s = 10; s <= 40; s += 10) {
      const id = await record('health-payments', sample(s, s >= 30 ? 40 : 1), s);
      if (s === 30) tipping = id;
    }
    const report = await verifyDecisions(history, defaultRollbackPolicy);
    expect(report.ok).toBe(false);
    expect(report.missing).toMatchObject([
      { service: 'payments', rule: 'error_rate_critical', tippingEventId: tipping },
    ]);
  });

  it('explains a decision: figures, evidence samples, the causation chain and what followed', async () => {
    const rollbackId = await incident();
    await record(
      'service-payments',
      { type: 'RollbackStarted', data: { rollbackId, service: 'payments', fromRelease: 'v2', toRelease: 'v1' } },
      70,
    );
    const explanation = await explainDecision(history, rollbackId);
    // Tipped by the sample at 30 s: (1 + 1 + 30) errors in 300 requests over the 60 s window.
    expect(explanation.decision.data).toMatchObject({
      rollbackId,
      rule: 'error_rate_critical',
      threshold: 0.1,
      targetRelease: 'v1',
      window: { sampleCount: 3 },
    });
    expect(explanation.decision.data.observed).toBeCloseTo(32 / 300);
    expect(explanation.evidence.map((e) => e.data)).toMatchObject([
      { requests: { errors: 1 } },
      { requests: { errors: 1 } },
      { requests: { errors: 30 } },
    ]);
    expect(explanation.causation.map((e) => e.id)).toEqual([explanation.evidence[2]!.id]);
    expect(explanation.lifecycle.map((e) => e.type)).toEqual(['RollbackStarted']);
    expect((await explainDecision(history, explanation.decision.id)).decision.id).toBe(explanation.decision.id);
    await expect(explainDecision(history, 'rb-nope')).rejects.toBeInstanceOf(DecisionNotFound);
  });

  it('replays the state as it was at a past instant', async () => {
    const rollbackId = await incident();
    await record(
      'service-payments',
      { type: 'RollbackStarted', data: { rollbackId, service: 'payments', fromRelease: 'v2', toRelease: 'v1' } },
      100,
    );
    await record(
      'service-payments',
      { type: 'RollbackCompleted', data: { rollbackId, service: 'payments', release: 'v1' } },
      110,
    );
    const before = await replayAt(history, at(20));
    expect(before.services.services.payments).toMatchObject({ currentRelease: 'v2', lastKnownGood: 'v1' });
    expect(before.services.services.payments!.rollback).toBeUndefined();
    const during = await replayAt(history, at(105));
    expect(during.services.services.payments!.rollback).toMatchObject({ id: rollbackId, status: 'in_progress' });
    expect(Object.values(during.incidents.incidents)).toMatchObject([
      { id: rollbackId, status: 'mitigating', severity: 'P1' },
    ]);
    const after = await replayAt(history, at(200));
    expect(after.services.services.payments).toMatchObject({ currentRelease: 'v1', rollback: { status: 'completed' } });
  });

  it('reproduces and explains a rollback an alert from Alertmanager decided, once while it fires', async () => {
    const manager = new RollbackProcessManager(store, defaultRollbackPolicy, new MemoryCheckpointStore());
    await manager.start();
    await deploy();
    const startsAt = at(20).toISOString();
    const alert = (status: 'firing' | 'resolved'): DomainEvent => ({
      type: 'AlertReceived',
      data: {
        alertname: 'CriticalLatency',
        service: 'payments',
        severity: 'critical',
        status,
        fingerprint: '5c1d2e3f4a5b6c7d',
        startsAt,
        labels: { alertname: 'CriticalLatency', service: 'payments', severity: 'critical' },
        annotations: { summary: 'payments: MCP P95 latency 9.75s (over 5 s)' },
        receiver: 'failsafe',
      },
    });
    const firing = encodeEvent(alert('firing'), {
      actor: 'alertmanager',
      occurredAt: at(30),
      id: alertEventId('5c1d2e3f4a5b6c7d', startsAt, 'firing'),
    });
    await store.append(ALERT_STREAM, [firing], 'any');
    // Samples while it fires decide nothing more: the alert's rule is latched, and the rollback is under way.
    for (let s = 40; s <= 60; s += 10) await record('health-payments', sample(s, 0), s);
    await manager.catchUp();
    await manager.stop();

    const report = await verifyDecisions(history, defaultRollbackPolicy);
    expect(report).toMatchObject({
      ok: true,
      missing: [],
      recorded: [{ service: 'payments', rule: 'alert_critical', reproduced: true }],
    });
    const explanation = await explainDecision(history, report.recorded[0]!.rollbackId);
    expect(explanation.decision.data).toMatchObject({
      mode: 'automatic',
      severity: 'P1',
      targetRelease: 'v1',
      alert: { alertname: 'CriticalLatency', fingerprint: '5c1d2e3f4a5b6c7d', startsAt },
    });
    expect(explanation.evidence.map((e) => [e.id, e.type])).toEqual([[firing.id, 'AlertReceived']]);
    expect(explanation.causation.map((e) => e.id)).toEqual([firing.id]);
  });
});
