import type { TypedRecordedEvent } from '../src/events/catalogue.js';

/**
 * The time an event speaks for: when a sample was taken or a tick struck, else when the event
 * occurred. Projections and the policy read time only from here, never from the wall clock.
 */
export function eventTime(event: TypedRecordedEvent): number {
  if (event.type === 'HealthSampleRecorded') return Date.parse(event.data.sampledAt);
  if (event.type === 'ClockTicked') return Date.parse(event.data.at);
  return Date.parse(event.metadata.occurredAt);
}

/** Recorded time only moves forward, whatever order clocks of different machines gave. */
export const advance = (asOf: number, event: TypedRecordedEvent): number => Math.max(asOf, eventTime(event));
