import type { TypedRecordedEvent } from '../src/events/catalogue.js';

// Several read models fold the same event one after the other and each asks its time: parsing a
// timestamp costs more than the rest of a sample's fold, so the last answer is kept (events are
// never changed once recorded, so the same event always has the same time).
let lastEvent: TypedRecordedEvent | undefined;
let lastTime = 0;

/** The number written in `text` from `from` to `to` (exclusive), or -1 when a character there is not a digit. */
function digits(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i += 1) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * `Date.parse`, faster for the form `toISOString` writes (YYYY-MM-DDTHH:mm:ss.sssZ), the form of
 * nearly every recorded time: read field by field when every field is plainly in range (days up
 * to the 28th, years from 1000), else left to `Date.parse`.
 */
export function parseTime(text: string): number {
  if (
    text.length !== 24 ||
    text[4] !== '-' ||
    text[7] !== '-' ||
    text[10] !== 'T' ||
    text[13] !== ':' ||
    text[16] !== ':' ||
    text[19] !== '.' ||
    text[23] !== 'Z'
  )
    return Date.parse(text);
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 7);
  const day = digits(text, 8, 10);
  const hour = digits(text, 11, 13);
  const minute = digits(text, 14, 16);
  const second = digits(text, 17, 19);
  const millisecond = digits(text, 20, 23);
  if (
    year < 1000 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > 28 ||
    hour < 0 ||
    hour > 23 ||
    minute < 0 ||
    minute > 59 ||
    second < 0 ||
    second > 59 ||
    millisecond < 0
  )
    return Date.parse(text);
  return Date.UTC(year, month - 1, day, hour, minute, second, millisecond);
}

/**
 * The time an event speaks for: when a sample was taken or a tick struck, else when the event
 * occurred. Projections and the policy read time only from here, never from the wall clock.
 */
export function eventTime(event: TypedRecordedEvent): number {
  if (event === lastEvent) return lastTime;
  lastTime =
    event.type === 'HealthSampleRecorded'
      ? parseTime(event.data.sampledAt)
      : event.type === 'ClockTicked'
        ? parseTime(event.data.at)
        : parseTime(event.metadata.occurredAt);
  lastEvent = event;
  return lastTime;
}

/** Recorded time only moves forward, whatever order clocks of different machines gave. */
export const advance = (asOf: number, event: TypedRecordedEvent): number => Math.max(asOf, eventTime(event));
