import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '../src/events/catalogue.js';
import { eventExamples } from '../src/events/event-examples.fixture.js';
import { foldProjection } from '../src/runtime/projection.js';
import { incidentsProjection, TELEMETRY_STALE_RULE } from './incidents.js';
import { recordedEvent } from './recorded-event.fixture.js';

const service = 'payments';
const rollbackId = 'rb-1';

const decidedAs = (id: string, severity?: 'P0' | 'P1' | 'P2' | 'P3'): DomainEvent => ({
  type: 'RollbackDecided',
  data: { ...eventExamples.RollbackDecided, rollbackId: id, service, ...(severity && { severity }) },
});
const decided = decidedAs(rollbackId);
const started: DomainEvent = {
  type: 'RollbackStarted',
  data: { rollbackId, service, fromRelease: 'v2', toRelease: 'v1' },
};
const completed: DomainEvent = { type: 'RollbackCompleted', data: { rollbackId, service, release: 'v1' } };
const verified = (passed: boolean): DomainEvent => ({
  type: 'RollbackVerified',
  data: { rollbackId, service, passed, checks: [{ name: 'health', passed }] },
});
const escalated: DomainEvent = {
  type: 'RollbackEscalated',
  data: { rollbackId, service, reason: 'verification failed', severity: 'P0' },
};

const incidentsAfter = (...events: DomainEvent[]) =>
  foldProjection(
    incidentsProjection,
    events.map((event) => recordedEvent(event)),
  ).incidents;
const fold = (...events: DomainEvent[]) => incidentsAfter(...events)[rollbackId]!;

describe('incidents', () => {
  it("take their severity from the policy rule that decided, whatever the rule's action", () => {
    // error_rate_critical rolls back automatically (P1 by its action), but this policy file calls it P0.
    const incidents = incidentsAfter(decidedAs('r-p0', 'P0'), decidedAs('r-p3', 'P3'));
    expect(incidents['r-p0']).toMatchObject({ severity: 'P0', rule: 'error_rate_critical', status: 'open' });
    expect(incidents['r-p3']).toMatchObject({ severity: 'P3' });
  });

  it("fall back to the severity of the rule's action for decisions recorded without one", () => {
    expect(incidentsAfter(decidedAs('r-old'))['r-old']).toMatchObject({ severity: 'P1' });
  });

  it('resolves an incident once its rollback is verified', () => {
    expect(fold(decided, started, completed, verified(true))).toMatchObject({ status: 'resolved', severity: 'P1' });
  });

  it('hands an incident Failsafe could not mitigate to a person, at the escalation severity', () => {
    expect(fold(decided, started, completed, verified(false))).toMatchObject({ status: 'mitigating' });
    const handedOver = fold(decided, started, completed, verified(false), escalated);
    expect(handedOver).toMatchObject({ status: 'escalated', severity: 'P0' });
    expect(fold(decided, escalated)).toMatchObject({ status: 'escalated' });
  });

  it('opens a P2 incident when telemetry goes stale and resolves it when samples resume', () => {
    const stale = recordedEvent({ type: 'TelemetryStale', data: eventExamples.TelemetryStale });
    const resumed = recordedEvent({ type: 'TelemetryResumed', data: eventExamples.TelemetryResumed });
    const opened = foldProjection(incidentsProjection, [stale]).incidents;
    expect(opened).toEqual({
      [`ts-${stale.id}`]: {
        id: `ts-${stale.id}`,
        service,
        severity: 'P2',
        rule: TELEMETRY_STALE_RULE,
        openedAt: Date.parse(eventExamples.TelemetryStale.detectedAt),
        status: 'open',
        eventIds: [stale.id],
      },
    });
    const closed = foldProjection(incidentsProjection, [stale, resumed]).incidents[`ts-${stale.id}`];
    expect(closed).toMatchObject({
      status: 'resolved',
      resolvedAt: Date.parse(eventExamples.TelemetryResumed.resumedAt),
      eventIds: [stale.id, resumed.id],
    });
  });
});
