import { describe, expect, it } from 'vitest';
import type { DomainEvent, TypedRecordedEvent } from '../src/events/catalogue.js';
import { recordedEvent } from './recorded-event.fixture.js';
import { foldProjection } from '../src/runtime/projection.js';
import { serviceStateProjection } from './service-state.js';

let n = 0;
const by = (actor: string, event: DomainEvent) =>
  recordedEvent(event, { actor, occurredAt: `2026-11-24T10:00:0${(n += 1) % 10}.000Z` });

const service = 'payments';

describe('service state', () => {
  it('lists what is disabled, by whom and when, system first, and forgets what was enabled again', () => {
    const events = [
      by('alice', { type: 'FeatureDisabled', data: { service, scope: 'tool', target: 'refund', reason: 'breaker' } }),
      by('bob', { type: 'FeatureDisabled', data: { service, scope: 'agent', target: 'planner' } }),
      by('carol', { type: 'FeatureDisabled', data: { service, scope: 'system', reason: 'MCP incident' } }),
      by('dave', { type: 'FeatureEnabled', data: { service, scope: 'agent', target: 'planner' } }),
    ];
    const view = foldProjection(serviceStateProjection, events).services[service]!;
    expect(view).toMatchObject({ disabledTools: ['refund'], disabledAgents: [], legacyMode: true });
    expect(view.disabledFeatures).toEqual([
      { scope: 'system', target: undefined, by: 'carol', at: events[2]!.metadata.occurredAt, reason: 'MCP incident' },
      { scope: 'tool', target: 'refund', by: 'alice', at: events[0]!.metadata.occurredAt, reason: 'breaker' },
    ]);
  });
});
