import type { RecordedEvent } from './event-store.js';

/**
 * Where retention puts the events it trims, so that the history stays whole for auditors. An
 * adapter writes to it before deleting; readers merge it with the live store by global position.
 */
export interface EventArchive {
  /**
   * Stores trimmed events durably before the store deletes them. Synchronous: it runs inside the
   * store's delete transaction. Archiving an event again (a retried trim) is harmless.
   */
  write(events: readonly RecordedEvent[]): void;
  /** Reads the archive forwards from `fromPosition` (inclusive). */
  cursor(fromPosition: bigint): ArchiveCursor;
  /** The archived events with these ids, keyed by event id. */
  readEvents(ids: readonly string[]): Promise<ReadonlyMap<string, RecordedEvent>>;
}

export interface ArchiveCursor {
  /**
   * The archived events after those already read, up to `position` (inclusive), each once, in
   * position order. Each call also finds what was archived since the previous one.
   */
  upTo(position: bigint): AsyncIterable<RecordedEvent>;
}
