import type { EventStore } from '../event-store/event-store.js';
import { decodeEvent, type TypedRecordedEvent } from '../events/catalogue.js';

/** The whole history, decoded and upcast, streamed in order: what every audit replays. */
export async function* decodedHistory(store: EventStore): AsyncIterable<TypedRecordedEvent> {
  for await (const recorded of store.readAll()) yield decodeEvent(recorded);
}
