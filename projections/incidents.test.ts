import { describe, expect, it } from 'vitest';
import type { DomainEvent, TypedRecordedEvent } from '../src/events/catalogue.js';
import { recordedEvent } from './recorded-event.fixture.js';
import { eventExamples } from '../src/events/event-examples.fixture.js';
import { foldProjection } from '../src/runtime/projection.js';
import { incidentsProjection } from './incidents.js';

const recorded = (event: DomainEvent) => recordedEvent(event);

const decided = (rollbackId: string, severity?: 'P0' | 'P1' | 'P2' | 'P3') =>
  recorded({
    type: 'RollbackDecided',
    data: { ...eventExamples.RollbackDecided, rollbackId, ...(severity && { severity }) },
  });

describe('incidents', () => {
  it("take their severity from the policy rule that decided, whatever the rule's action", () => {
    // error_rate_critical rolls back automatically (P1 by its action), but this policy file calls it P0.
    const state = foldProjection(incidentsProjection, [decided('r-p0', 'P0'), decided('r-p3', 'P3')]);
    expect(state.incidents['r-p0']).toMatchObject({ severity: 'P0', rule: 'error_rate_critical', status: 'open' });
    expect(state.incidents['r-p3']).toMatchObject({ severity: 'P3' });
  });

  it('fall back to the severity of the rule\'s action for decisions recorded without one', () => {
    const state = foldProjection(incidentsProjection, [decided('r-old')]);
    expect(state.incidents['r-old']).toMatchObject({ severity: 'P1' });
  });
});
