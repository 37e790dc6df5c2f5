import { describe, expect, it } from 'vitest';
import type { DomainEvent, TypedRecordedEvent } from '../src/events/catalogue.js';
import { foldProjection } from '../src/runtime/projection.js';
import { serviceStateProjection } from './service-state.js';

let n = 0;
const by = (actor: string, event: DomainEvent): TypedRecordedEvent =>
  ({
    ...event,
    id: `0195f2a4-8c1e-7d3a-9b2f-${(n += 1).toString(16).padStart(12, '0')}`,
    stream: 'service-payments',
    revision: BigInt(n),
    position: BigInt(n),
    recordedAt: new Date(),
    metadata: {
      correlationId: '0195f2a4-8c1e-7d3a-9b2f-5e6d7c8b9a01',
      causationId: null,
      actor,
      schemaVersion: 1,
      occurredAt: `2026-11-24T10:00:0${n % 10}.000Z`,
    },
  }) as TypedRecordedEvent;

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
