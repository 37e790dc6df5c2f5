import type { TypedRecordedEvent } from '../src/events/catalogue.js';

// Several read models fold the same event one after the other and each asks its time: parsing a
// timestamp costs more than the rest of a sample's fold, so the last answer is kept (events are
// never changed once recorded, so the same event always has the same time).
let lastEvent: TypedRecordedEvent | undefined;
let lastTime = 0;

/**
 * The time an event speaks for: when a sample was taken or a tick struck, else when the event
 * occurred. Projections and the policy read time only from here, never from the wall clock.
 */
export function eventTime(event: TypedRecordedEvent): number {
  if (event === lastEvent) return lastTime;
  lastTime =
    event.type === 'HealthSampleRecorded'
      ? Date.parse(event.data.sampledAt)
      : event.type === 'ClockTicked'
        ? Date.parse(event.data.at)
        : Date.parse(event.metadata.occurredAt);
  lastEvent = event;
  return lastTime;
}

/** Recorded time only moves forward, whatever order clocks of different machines gave. */
export const advance = (asOf: number, event: TypedRecordedEvent): number => Math.max(asOf, eventTime(event));
