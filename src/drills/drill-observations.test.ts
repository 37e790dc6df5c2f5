import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '../events/catalogue.js';
import { eventExamples } from '../events/event-examples.fixture.js';
import { recordedEvent } from '../../projections/recorded-event.fixture.js';
import { nothingSeen, observe, settled, type DrillSeen } from './drill-observations.js';

const scope = { service: 'payments', migrationId: 'drill-run-1' };
const at = (ms: number, event: DomainEvent, stream = 'service-payments') => ({
  ...recordedEvent(event, { stream }),
  recordedAt: new Date(ms),
});
const fold = (seen: DrillSeen, ...events: ReturnType<typeof at>[]) =>
  events.reduce((s, e) => observe(s, e, scope).seen, seen);

const decided = (rollbackId: string, mode: 'automatic' | 'manual' = 'automatic'): DomainEvent => ({
  type: 'RollbackDecided',
  data: { ...eventExamples.RollbackDecided, rollbackId, mode },
});

describe('what a drill has seen, folded from the recorded events', () => {
  it('keeps the first decision, the release rollback and its completion, with their times', () => {
    const seen = fold(
      { ...nothingSeen, faultAt: 1000 },
      at(2000, decided('r-1')),
      at(2500, { type: 'RollbackStarted', data: eventExamples.RollbackStarted }),
      at(2600, { type: 'RollbackCompleted', data: { ...eventExamples.RollbackCompleted, rollbackId: 'r-other' } }),
      at(3000, { type: 'RollbackCompleted', data: eventExamples.RollbackCompleted }),
      at(4000, decided('r-2', 'manual')),
    );
    expect(seen).toMatchObject({
      decided: { at: 2000, mode: 'automatic', rule: 'error_rate_critical' },
      rollbackStarted: 2500,
      releaseRollback: 'r-1',
      completed: 3000,
    });
  });

  it("counts as the drill's own only the decisions made once its faults began", () => {
    const before = fold(nothingSeen, at(500, decided('r-before')));
    const seen = fold({ ...before, faultAt: 1000 }, at(2000, decided('r-1')), at(4000, decided('r-2', 'manual')));
    expect(seen.ownDecisions).toEqual(['r-1', 'r-2']);
  });

  it('asks for approval of the first decision when it is manual, and says what was decided', () => {
    const manual = decided('r-9', 'manual');
    const exact = { ...manual, data: { ...manual.data, observed: 0.23076923076923078 } } as typeof manual;
    const { noticed } = observe({ ...nothingSeen, faultAt: 1 }, at(2000, exact), scope);
    expect(noticed).toMatchObject({
      manual: 'r-9',
      timeline: { at: 2000, kind: 'decision', label: 'manual decided by error_rate_critical (observed 0.231)' },
    });
  });

  it('a restart of the same release (disabling a tool) is not a rollback; a disabled tool is recorded', () => {
    const seen = fold(
      nothingSeen,
      at(1, { type: 'RollbackStarted', data: { ...eventExamples.RollbackStarted, toRelease: 'v2.1.0' } }),
      at(2, { type: 'FeatureDisabled', data: eventExamples.FeatureDisabled }),
    );
    expect(seen.rollbackStarted).toBeUndefined();
    expect(seen.disabledTools).toEqual([{ tool: 'refund', at: 2 }]);
  });

  it("sees its own migration's revert only, and nothing of other services", () => {
    const revert = (migrationId: string): DomainEvent => ({
      type: 'MigrationReverted',
      data: { ...eventExamples.MigrationReverted, migrationId },
    });
    const seen = fold(
      nothingSeen,
      at(5, revert('m-other'), 'migration-m-other'),
      at(6, decided('r-1'), 'service-other'),
      at(7, revert('drill-run-1'), 'migration-drill-run-1'),
    );
    expect(seen.migrationReverted).toBe(7);
    expect(seen.decided).toBeUndefined();
  });

  it('is settled once every expectation that waits has been seen', () => {
    const expectations = [
      { expect: 'rollback_decided', mode: 'automatic', within: 30_000 },
      { expect: 'healthy_after' },
    ] as const;
    expect(settled(expectations, nothingSeen)).toBe(false);
    expect(settled(expectations, fold(nothingSeen, at(1, decided('r-1'))))).toBe(true);
    expect(settled([{ expect: 'no_rollback', during: 10_000 }], nothingSeen)).toBe(false);
  });

  it('opens an incident on stale telemetry once the faults began, and resolves it when the samples resume', () => {
    const stale: DomainEvent = { type: 'TelemetryStale', data: eventExamples.TelemetryStale };
    const resumed: DomainEvent = { type: 'TelemetryResumed', data: eventExamples.TelemetryResumed };
    const telemetry = 'telemetry-payments';
    const before = fold(nothingSeen, at(500, stale, telemetry));
    expect(before.incident).toBeUndefined();
    const opened = observe({ ...before, faultAt: 1000 }, at(2000, stale, telemetry), scope);
    expect(opened.noticed?.timeline).toEqual({
      at: 2000,
      kind: 'decision',
      label: 'incident opened: telemetry_stale (no sample for 30 s)',
    });
    const seen = fold(opened.seen, at(9000, resumed, telemetry), at(9500, stale, telemetry));
    expect(seen.incident).toEqual({ at: 2000, rule: 'telemetry_stale', resolvedAt: 9000 });
    const expectations = [{ expect: 'incident_resolved', within: 60_000 }] as const;
    expect(settled(expectations, opened.seen)).toBe(false);
    expect(settled(expectations, seen)).toBe(true);
    expect(fold({ ...nothingSeen, faultAt: 1000 }, at(2000, stale, 'telemetry-other')).incident).toBeUndefined();
  });
});
