import type { DomainEvent, TypedRecordedEvent } from '../src/events/catalogue.js';

let n = 0;

/** A domain event as the store hands it back, numbered in order, for tests of pure folds. */
export const recordedEvent = (
  event: DomainEvent,
  options: { actor?: string; stream?: string; occurredAt?: string; revision?: number } = {},
): TypedRecordedEvent => {
  n += 1;
  return {
    ...event,
    id: `0195f2a4-8c1e-7d3a-9b2f-${n.toString(16).padStart(12, '0')}`,
    stream: options.stream ?? 'service-payments',
    revision: BigInt(options.revision ?? n),
    position: BigInt(n),
    recordedAt: new Date(0),
    metadata: {
      correlationId: '0195f2a4-8c1e-7d3a-9b2f-5e6d7c8b9a01',
      causationId: null,
      actor: options.actor ?? 'failsafe:policy',
      schemaVersion: 1,
      occurredAt: options.occurredAt ?? '2026-11-24T10:00:00.000Z',
    },
  } as TypedRecordedEvent;
};
