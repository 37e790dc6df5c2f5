import { describe, expect, it } from 'vitest';
import { activeAlertsProjection } from '../../projections/active-alerts.js';
import { healthWindowsProjection } from '../../projections/health-windows.js';
import { migrationProgressProjection } from '../../projections/migration-progress.js';
import type { DomainEvent, EventData, TypedRecordedEvent } from '../events/catalogue.js';
import { foldProjection } from '../runtime/projection.js';
import { evaluatePolicy, type Finding } from './evaluate-policy.js';
import { defaultRollbackPolicy, retainSecondsFor } from './rollback-policy.js';

const t0 = Date.UTC(2026, 10, 24, 10);
let sequence = 0;
const recorded = (event: DomainEvent, atSeconds: number): TypedRecordedEvent => {
  sequence += 1;
  return {
    ...event,
    id: `0195f2a4-8c1e-7d3a-9b2f-${sequence.toString(16).padStart(12, '0')}`,
    stream: 's',
    revision: BigInt(sequence),
    position: BigInt(sequence),
    recordedAt: new Date(t0 + atSeconds * 1000),
    metadata: {
      correlationId: '0195f2a4-8c1e-7d3a-9b2f-5e6d7c8b9a01',
      causationId: null,
      actor: 't',
      schemaVersion: 1,
      occurredAt: new Date(t0 + atSeconds * 1000).toISOString(),
    },
  } as TypedRecordedEvent;
};

type Sample = Partial<EventData<'HealthSampleRecorded'>>;
/** One sample every 10 s (the seeds' default interval) from `from` to `to` seconds. */
const samples = (from: number, to: number, fields: (at: number) => Sample): TypedRecordedEvent[] => {
  const out: TypedRecordedEvent[] = [];
  for (let at = from; at <= to; at += 10) {
    out.push(
      recorded(
        {
          type: 'HealthSampleRecorded',
          data: {
            service: 'payments',
            instance: 'p-1',
            sampledAt: new Date(t0 + at * 1000).toISOString(),
            healthy: true,
            healthLatencyMs: 5,
            ...fields(at),
          },
        },
        at,
      ),
    );
  }
  return out;
};

function judge(events: TypedRecordedEvent[]): Finding[] {
  const health = foldProjection(healthWindowsProjection(retainSecondsFor(defaultRollbackPolicy)), events);
  const migrations = foldProjection(migrationProgressProjection, events);
  const alerts = foldProjection(activeAlertsProjection, events);
  return evaluatePolicy(defaultRollbackPolicy, { health, migrations, alerts }, Math.max(health.asOf, migrations.asOf));
}
const rules = (findings: Finding[]) => findings.map((f) => f.rule).sort();
const errors = (rate: number) => () => ({ requests: { total: 1000, errors: Math.round(rate * 1000) } });

describe('rollback policy evaluation', () => {
  it('decides an automatic rollback when the error rate is above 10 %, with the samples as evidence', () => {
    const history = [...samples(0, 50, errors(0.01)), ...samples(60, 120, errors(0.25))];
    const [finding, ...others] = judge(history);
    expect(others).toEqual([]);
    expect(finding).toMatchObject({
      rule: 'error_rate_critical',
      mode: 'automatic',
      severity: 'P1',
      threshold: 0.1,
      unit: 'ratio',
      service: 'payments',
    });
    expect(finding!.observed).toBeCloseTo(0.25);
    expect(finding!.evidenceEventIds).toEqual(history.slice(-6).map((e) => e.id));
    expect(finding!.window).toEqual({
      from: new Date(t0 + 60_000).toISOString(),
      to: new Date(t0 + 120_000).toISOString(),
      sampleCount: 6,
    });
  });

  it('stays quiet below the thresholds', () => {
    expect(
      judge(
        samples(0, 900, (at) => ({
          ...errors(0.04)(),
          latencyMs: { p50: 50, p95: 1500, p99: 1900 },
          memory: { usedRatio: 0.5 + (at % 20) / 1000 },
        })),
      ),
    ).toEqual([]);
  });

  it('needs an error rate above 5 % for the whole 5 minutes before the sustained rule fires', () => {
    expect(rules(judge(samples(0, 360, errors(0.07))))).toEqual(['error_rate_sustained']);
    expect(judge([...samples(0, 180, errors(0.01)), ...samples(190, 360, errors(0.07))])).toEqual([]);
  });

  it('rolls back after health checks have failed for more than 5 minutes, not before', () => {
    const healthyThenFailing = (until: number) => [
      ...samples(0, 50, () => ({})),
      ...samples(60, until, () => ({ healthy: false })),
    ];
    expect(judge(healthyThenFailing(320))).toEqual([]);
    const history = healthyThenFailing(380);
    const [finding] = judge(history);
    expect(finding).toMatchObject({ rule: 'health_check_failures', severity: 'P0', observed: 320, unit: 's' });
    expect(finding!.evidenceEventIds[0]).toBe(history[6]!.id);
  });

  it('never counts silence as failure: samples that stop while failing, or with a breaker open, decide nothing', () => {
    const ticks = (from: number, to: number) =>
      samples(from, to, () => ({})).map((s) =>
        recorded({ type: 'ClockTicked', data: { at: (s.data as { sampledAt: string }).sampledAt } }, 0),
      );
    const failingThenSilent = [...samples(0, 50, () => ({})), ...samples(60, 90, () => ({ healthy: false }))];
    expect(judge([...failingThenSilent, ...ticks(100, 1200)])).toEqual([]);
    const breakerThenSilent = samples(0, 20, () => ({ openCircuitBreakers: ['refund'] }));
    expect(judge([...breakerThenSilent, ...ticks(30, 1200)])).toEqual([]);
    // A failing sample after the silence is data again: with no healthy one between, the failure goes on.
    const resumed = samples(1210, 1210, () => ({ healthy: false }));
    const [finding, ...others] = judge([...failingThenSilent, ...ticks(100, 1200), ...resumed]);
    expect(others).toEqual([]);
    expect(finding).toMatchObject({ rule: 'health_check_failures', observed: 1150 });
    expect(finding!.evidenceEventIds).toEqual([
      failingThenSilent[6]!.id,
      ...failingThenSilent.slice(7).map((e) => e.id),
      resumed[0]!.id,
    ]);
  });

  it('separates P95 above 5 s (automatic) from P95 above 2 s over 5 minutes (manual)', () => {
    const critical = judge(samples(0, 60, () => ({ latencyMs: { p50: 900, p95: 6000, p99: 9000 } })));
    expect(critical.map((f) => [f.rule, f.mode])).toEqual([
      ['latency_p95_critical', 'automatic'],
      ['performance_degradation', 'manual'],
    ]);
    const slow = judge(samples(0, 400, () => ({ latencyMs: { p50: 900, p95: 2600, p99: 4000 } })));
    expect(slow.map((f) => [f.rule, f.mode])).toEqual([['performance_degradation', 'manual']]);
  });

  it('rolls back on memory above 90 % and asks for approval on a steady leak', () => {
    expect(rules(judge(samples(0, 30, () => ({ memory: { usedRatio: 0.95 } }))))).toEqual(['memory_critical']);
    const leak = judge(samples(0, 1800, (at) => ({ memory: { usedRatio: 0.4 + (at / 1800) * 0.3 } })));
    expect(leak.map((f) => [f.rule, f.mode])).toEqual([['memory_leak', 'manual']]);
    const sawtooth = judge(samples(0, 1800, (at) => ({ memory: { usedRatio: 0.4 + ((at / 10) % 2) * 0.3 } })));
    expect(sawtooth).toEqual([]);
  });

  it('rolls back on a protocol compatibility error', () => {
    const broken = samples(0, 10, () => ({
      mcp: {
        protocolVersion: '2024-01-01',
        toolCount: 0,
        initializeLatencyMs: 3,
        error: 'unsupported protocol version',
      },
    }));
    expect(judge(broken).map((f) => [f.rule, f.mode, f.evidenceEventIds])).toEqual([
      ['protocol_compatibility', 'automatic', [broken[1]!.id]],
    ]);
  });

  it('disables the one tool whose circuit breaker stays open, rather than rolling back', () => {
    const open = judge([
      ...samples(0, 20, () => ({})),
      ...samples(30, 120, () => ({ openCircuitBreakers: ['refund'] })),
    ]);
    expect(open).toMatchObject([
      {
        rule: 'circuit_breaker_open',
        mode: 'disable_feature',
        feature: { scope: 'tool', target: 'refund' },
        observed: 90,
      },
    ]);
    expect(judge(samples(0, 50, () => ({ openCircuitBreakers: ['refund'] })))).toEqual([]);
  });

  it('disables one tool that keeps failing while the service as a whole is fine (a non-critical feature bug)', () => {
    const tools = (refundErrors: number) => () => ({
      ...errors(0.01)(),
      tools: [
        { name: 'refund', calls: 20, errors: refundErrors },
        { name: 'lookup', calls: 500, errors: 1 },
      ],
    });
    expect(judge(samples(0, 290, tools(8)))).toMatchObject([
      { rule: 'feature_bug', mode: 'disable_feature', feature: { scope: 'tool', target: 'refund' }, observed: 0.4 },
    ]);
    expect(judge(samples(0, 290, tools(2)))).toEqual([]);
  });

  const migration = { migrationId: 'apil-1', service: 'payments' };
  const started = recorded(
    {
      type: 'MigrationStarted',
      data: {
        ...migration,
        name: 'apil',
        stages: ['legacy', 'dual_protocol', 'apil_primary', 'apil_only'],
        initialStage: 'legacy',
      },
    },
    0,
  );
  const advanced = recorded(
    { type: 'MigrationStageAdvanced', data: { ...migration, fromStage: 'legacy', toStage: 'dual_protocol' } },
    10,
  );

  it('reverts a migration one stage when its error rate passes 10 %', () => {
    const progress = recorded(
      {
        type: 'MigrationProgressRecorded',
        data: { ...migration, stage: 'dual_protocol', progress: 0.3, errorRate: 0.15 },
      },
      20,
    );
    expect(judge([started, advanced, progress])).toMatchObject([
      {
        rule: 'migration_error_rate',
        mode: 'automatic',
        service: 'payments',
        migration: { migrationId: 'apil-1', toStage: 'legacy' },
        evidenceEventIds: [progress.id],
      },
    ]);
  });

  it('asks for approval when a migration has not moved for more than an hour of recorded time', () => {
    const tick = (at: number) =>
      recorded({ type: 'ClockTicked', data: { at: new Date(t0 + at * 1000).toISOString() } }, at);
    expect(judge([started, advanced, tick(3000)])).toEqual([]);
    expect(judge([started, advanced, tick(3700)])).toMatchObject([
      { rule: 'migration_stalled', mode: 'manual', observed: 3690, evidenceEventIds: [advanced.id] },
    ]);
  });
});

describe('alerts from Prometheus', () => {
  const registered = { ...recorded({ type: 'ServiceRegistered', data: { service: 'payments', source: 'fleet' } }, 0) };
  const inServiceStream = { ...registered, stream: 'service-payments' } as TypedRecordedEvent;
  const alert = (
    alertname: string,
    status: 'firing' | 'resolved',
    startsAtSeconds: number,
    atSeconds: number,
    service = 'payments',
  ) =>
    recorded(
      {
        type: 'AlertReceived',
        data: {
          alertname,
          service,
          status,
          fingerprint: `${alertname.length.toString(16)}a0f`,
          startsAt: new Date(t0 + startsAtSeconds * 1000).toISOString(),
          labels: { alertname, service },
          annotations: {},
          receiver: 'failsafe',
        },
      },
      atSeconds,
    );

  it('rolls back automatically on a critical alert, with the alert as its evidence', () => {
    const firing = alert('CriticalErrorRate', 'firing', 30, 40);
    expect(judge([inServiceStream, ...samples(0, 50, errors(0.01)), firing])).toMatchObject([
      {
        rule: 'alert_critical',
        mode: 'automatic',
        severity: 'P1',
        service: 'payments',
        unit: 'alert',
        alert: { alertname: 'CriticalErrorRate', fingerprint: '11a0f' },
        evidenceEventIds: [firing.id],
      },
    ]);
  });

  it('asks a person on a warning, rolls back at once when the service is down, and forgets resolved alerts', () => {
    expect(judge([inServiceStream, alert('HighLatency', 'firing', 0, 5)])).toMatchObject([
      { rule: 'alert_degraded', mode: 'manual', severity: 'P2' },
    ]);
    expect(judge([inServiceStream, alert('ServiceDown', 'firing', 0, 5)])).toMatchObject([
      { rule: 'alert_service_down', mode: 'automatic', severity: 'P0' },
    ]);
    expect(
      judge([inServiceStream, alert('ServiceDown', 'firing', 0, 5), alert('ServiceDown', 'resolved', 0, 9)]),
    ).toEqual([]);
    // A late resolution of an earlier episode does not end a later one.
    const again = [alert('ServiceDown', 'firing', 20, 25), alert('ServiceDown', 'resolved', 0, 30)];
    expect(rules(judge([inServiceStream, ...again]))).toEqual(['alert_service_down']);
  });

  it('acts on no alert Failsafe has no rule for, nor on one about a service it does not know', () => {
    expect(judge([inServiceStream, alert('ProjectionLag', 'firing', 0, 5)])).toEqual([]);
    expect(judge([inServiceStream, alert('CriticalErrorRate', 'firing', 0, 5, 'billing')])).toEqual([]);
  });

  it('leaves the decisions on health samples as they were while an alert fires', () => {
    const history = [...samples(0, 50, errors(0.01)), ...samples(60, 120, errors(0.25))];
    const withAlert = [inServiceStream, alert('HighLatency', 'firing', 0, 5), ...history];
    expect(rules(judge(withAlert))).toEqual(['alert_degraded', 'error_rate_critical']);
    expect(judge(withAlert)[0]).toMatchObject({ rule: 'error_rate_critical', mode: 'automatic' });
  });
});
