import type { RecordedEvent } from '../event-store/event-store.js';
import { decodeEvent, type TypedRecordedEvent } from '../events/catalogue.js';

/** What an audit reads: every event ever recorded, still in the store or moved to the archive by retention. */
export interface History {
  /** Each event once, in global position order, from `fromPosition` (inclusive; default the start). */
  readAll(fromPosition?: bigint): AsyncIterable<RecordedEvent>;
  /** The recorded events with these ids, keyed by the id asked for; ids never recorded are absent. */
  readEvents(ids: readonly string[]): Promise<ReadonlyMap<string, RecordedEvent>>;
}

/** The whole history, decoded and upcast, streamed in order: what every audit replays. */
export async function* decodedHistory(history: History, fromPosition?: bigint): AsyncIterable<TypedRecordedEvent> {
  for await (const recorded of history.readAll(fromPosition)) yield decodeEvent(recorded);
}
