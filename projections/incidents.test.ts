import { describe, expect, it } from 'vitest';
import { decodeEvent, encodeEvent, type DomainEvent } from '../src/events/catalogue.js';
import { foldProjection } from '../src/runtime/projection.js';
import { incidentsProjection } from './incidents.js';

const service = 'payments';
const rollbackId = 'rb-1';
const decided: DomainEvent = {
  type: 'RollbackDecided',
  data: {
    rollbackId,
    service,
    mode: 'automatic',
    rule: 'error_rate_critical',
    threshold: 0.1,
    observed: 0.4,
    evidenceEventIds: ['0195f2a4-8c1e-7d3a-9b2f-5e6d7c8b9a01'],
  },
};
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

const fold = (...events: DomainEvent[]) => {
  const recorded = events.map((event, i) => {
    const encoded = encodeEvent(event, { actor: 'test', occurredAt: new Date(Date.UTC(2026, 10, 30, 10, 0, i)) });
    const at = { revision: BigInt(i), position: BigInt(i + 1), recordedAt: new Date() };
    return decodeEvent({ ...encoded, metadata: encoded.metadata!, stream: `service-${service}`, ...at });
  });
  return foldProjection(incidentsProjection, recorded).incidents[rollbackId]!;
};

describe('incidents', () => {
  it('resolves an incident once its rollback is verified', () => {
    expect(fold(decided, started, completed, verified(true))).toMatchObject({ status: 'resolved', severity: 'P1' });
  });

  it('hands an incident Failsafe could not mitigate to a person, at the escalation severity', () => {
    expect(fold(decided, started, completed, verified(false))).toMatchObject({ status: 'mitigating' });
    const handedOver = fold(decided, started, completed, verified(false), escalated);
    expect(handedOver).toMatchObject({ status: 'escalated', severity: 'P0' });
    expect(fold(decided, escalated)).toMatchObject({ status: 'escalated' });
  });
});
