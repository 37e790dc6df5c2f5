import type { TypedRecordedEvent } from '../src/events/catalogue.js';

/** The event asked about last and its time: every read model asks in turn about the same event. */
let lastEvent: TypedRecordedEvent | undefined;
let lastTime = 0;

/**
 * The time an event speaks for: when a sample was taken or a tick struck, else when the event
 * occurred. Projections and the policy read time only from here, never from the wall clock.
 */
export function eventTime(event: TypedRecordedEvent): number {
  // Parsing the date is the dearest step of a replay's read models; events are immutable, so once an event is enough.
  if (event === lastEvent) return lastTime;
  const time =
    event.type === 'HealthSampleRecorded'
      ? Date.parse(event.data.sampledAt)
      : event.type === 'ClockTicked'
        ? Date.parse(event.data.at)
        : Date.parse(event.metadata.occurredAt);
  lastEvent = event;
  lastTime = time;
  return time;
}

/** Recorded time only moves forward, whatever order clocks of different machines gave. */
export const advance = (asOf: number, event: TypedRecordedEvent): number => Math.max(asOf, eventTime(event));
