import type { RecordedEvent } from '../event-store/event-store.js';
import type { TypedRecordedEvent } from '../events/catalogue.js';

/** An event a reader asked to skip: where it is, and its time. */
export interface SkippedEvent {
  readonly skipped: true;
  readonly position: bigint;
  readonly id: string;
  readonly time: number;
}

/** What an audit reads: every event ever recorded, still in the store or moved to the archive by retention. */
export interface History {
  /** Each event once, in global position order, from `fromPosition` (inclusive; default the start). */
  readAll(fromPosition?: bigint): AsyncIterable<RecordedEvent>;
  /** The same, decoded and upcast: what every audit replays. */
  readDecoded(fromPosition?: bigint): AsyncIterable<TypedRecordedEvent>;
  /**
   * The same as `readDecoded`, but of each event `skip` picks (by stream, type and id) only where
   * it is and its time (`eventTime`): left undecoded where the store allows.
   */
  readSkipping?(
    fromPosition: bigint,
    skip: (stream: string, type: string, id: string) => boolean,
  ): AsyncIterable<TypedRecordedEvent | SkippedEvent>;
  /**
   * The same as `readDecoded`, of events of these types only: where the store can pick them itself
   * (SQLite, PostgreSQL), a pass for a rare type does not read the others.
   */
  readTypes(fromPosition: bigint, types: readonly string[]): AsyncIterable<TypedRecordedEvent>;
  /** Whether the history holds more than `count` events (counted no further than that). */
  hasMoreThan(count: number): Promise<boolean>;
  /** The recorded events with these ids, keyed by the id asked for; ids never recorded are absent. */
  readEvents(ids: readonly string[]): Promise<ReadonlyMap<string, RecordedEvent>>;
}
