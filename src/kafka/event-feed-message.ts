import type { RecordedEvent } from '../event-store/event-store.js';
import { recordedEventToJson } from '../event-store/recorded-event-json.js';

/**
 * One recorded event as the feed publishes it, format version 1.
 *
 * - key: the event's stream, so a stream's events go to one partition and keep their order there.
 * - value: the recorded event as JSON (`RecordedEventJson`: revision and position as decimal strings).
 * - headers: what a consumer routes or dedupes on without parsing the value.
 *
 * Delivery is at least once: a consumer dedupes on the event id (`failsafe-event-id`, also `id` in
 * the value). Within a stream, the first occurrences of its events come in revision order; a
 * repeat is always of an event seen before, never a newer one jumping ahead.
 */
export const FEED_FORMAT_VERSION = 1;

export const FEED_HEADERS = {
  eventId: 'failsafe-event-id',
  type: 'failsafe-event-type',
  stream: 'failsafe-stream',
  revision: 'failsafe-revision',
  position: 'failsafe-position',
  /** The event's own `metadata.schemaVersion` (how its `data` is shaped); absent on an event without one. */
  schemaVersion: 'failsafe-schema-version',
  /** This envelope's version, `FEED_FORMAT_VERSION`. */
  format: 'failsafe-feed-format',
} as const;

export interface FeedMessage {
  readonly key: string;
  readonly value: string;
  readonly headers: Record<string, string>;
}

export function feedMessage(event: RecordedEvent): FeedMessage {
  const schemaVersion = event.metadata.schemaVersion;
  return {
    key: event.stream,
    value: JSON.stringify(recordedEventToJson(event)),
    headers: {
      [FEED_HEADERS.eventId]: event.id,
      [FEED_HEADERS.type]: event.type,
      [FEED_HEADERS.stream]: event.stream,
      [FEED_HEADERS.revision]: event.revision.toString(),
      [FEED_HEADERS.position]: event.position.toString(),
      ...(schemaVersion !== undefined && { [FEED_HEADERS.schemaVersion]: String(schemaVersion) }),
      [FEED_HEADERS.format]: String(FEED_FORMAT_VERSION),
    },
  };
}
