import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '../src/events/catalogue.js';
import { eventExamples } from '../src/events/event-examples.fixture.js';
import { recordedEvent } from './recorded-event.fixture.js';
import { rollbackTimingsProjection } from './rollback-timings.js';

const service = 'payments';
const decided = (rollbackId: string): DomainEvent => ({
  type: 'RollbackDecided',
  data: { ...eventExamples.RollbackDecided, rollbackId, service },
});
const requested = (rollbackId: string): DomainEvent => ({
  type: 'RollbackRequested',
  data: { rollbackId, service, requestedBy: 'alice', reason: 'P95 above 2 s' },
});
const verified = (rollbackId: string, passed: boolean): DomainEvent => ({
  type: 'RollbackVerified',
  data: { rollbackId, service, passed, checks: [{ name: 'health', passed }] },
});
const failed = (rollbackId: string): DomainEvent => ({
  type: 'RollbackFailed',
  data: { rollbackId, service, reason: 'release missing', attempt: 1 },
});
const rejected = (rollbackId: string): DomainEvent => ({
  type: 'RollbackRejected',
  data: { rollbackId, service, rejectedBy: 'bob', reason: 'recovering by itself' },
});

/** Folds events that occur one after the other at the given seconds after 10:00. */
const timings = (...timeline: [number, DomainEvent][]) => {
  let state = rollbackTimingsProjection.initialState;
  for (const [second, event] of timeline) {
    const occurredAt = new Date(Date.parse('2026-11-24T10:00:00Z') + second * 1000).toISOString();
    state = rollbackTimingsProjection.apply(state, recordedEvent(event, { occurredAt }));
  }
  return state;
};

describe('rollback timings', () => {
  it('time a rollback from its decision to its verification, passed or not', () => {
    const { finished, open } = timings(
      [0, decided('r-1')],
      [42, verified('r-1', true)],
      [50, decided('r-2')],
      [350, verified('r-2', false)],
    );
    expect(finished).toEqual([
      { rollbackId: 'r-1', service, outcome: 'verified', seconds: 42 },
      { rollbackId: 'r-2', service, outcome: 'verification_failed', seconds: 300 },
    ]);
    expect(open).toEqual({});
  });

  it('time a manual request to its first outcome only: a retried failure is not timed twice', () => {
    const { finished } = timings([0, requested('r-3')], [7, failed('r-3')], [20, verified('r-3', true)]);
    expect(finished).toEqual([{ rollbackId: 'r-3', service, outcome: 'failed', seconds: 7 }]);
  });

  it('never time a rejected request, nor an outcome of a rollback another one replaced', () => {
    expect(timings([0, requested('r-4')], [5, rejected('r-4')], [9, verified('r-4', true)]).finished).toEqual([]);
    expect(timings([0, decided('r-5')], [5, decided('r-6')], [9, verified('r-5', true)]).finished).toEqual([]);
  });
});
