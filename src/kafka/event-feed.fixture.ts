import type { EventStore, RecordedEvent } from '../event-store/event-store.js';
import { FEED_HEADERS } from './event-feed-message.js';
import type { TopicMessage } from './kafka-topic.fixture.js';

export interface FeedAudit {
  /** Ids in the store that no message carries. */
  readonly missing: string[];
  /** Messages whose id the store does not hold, or whose key, headers or value disagree with the event. */
  readonly wrong: string[];
  /** Messages beyond the first of their id. */
  readonly duplicates: number;
  /** Streams whose events' first occurrences are not in revision order, or that span partitions. */
  readonly disordered: string[];
}

/** Holds the topic's messages against the store: what a consumer deduping by event id would see. */
export function auditFeed(messages: readonly TopicMessage[], events: readonly RecordedEvent[]): FeedAudit {
  const byId = new Map(events.map((e) => [e.id, e] as const));
  const seen = new Set<string>();
  const wrong: string[] = [];
  let duplicates = 0;
  const firsts = new Map<string, { partition: number; revision: bigint }[]>();
  for (const message of messages) {
    const id = message.headers[FEED_HEADERS.eventId] ?? '';
    const event = byId.get(id);
    const value = JSON.parse(message.value) as { id: string; stream: string; revision: string; position: string };
    if (
      !event ||
      message.key !== event.stream ||
      value.id !== id ||
      value.revision !== event.revision.toString() ||
      message.headers[FEED_HEADERS.stream] !== event.stream ||
      message.headers[FEED_HEADERS.type] !== event.type ||
      message.headers[FEED_HEADERS.revision] !== event.revision.toString() ||
      message.headers[FEED_HEADERS.position] !== event.position.toString()
    ) {
      wrong.push(id);
      continue;
    }
    if (seen.has(id)) {
      duplicates += 1;
      continue;
    }
    seen.add(id);
    const list = firsts.get(event.stream) ?? [];
    list.push({ partition: message.partition, revision: event.revision });
    firsts.set(event.stream, list);
  }
  const disordered = [...firsts].flatMap(([stream, list]) =>
    list.every((m, i) => i === 0 || (m.partition === list[0]!.partition && m.revision > list[i - 1]!.revision))
      ? []
      : [stream],
  );
  return { missing: events.filter((e) => !seen.has(e.id)).map((e) => e.id), wrong, duplicates, disordered };
}

export async function allEvents(store: EventStore): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for await (const event of store.readAll()) events.push(event);
  return events;
}
