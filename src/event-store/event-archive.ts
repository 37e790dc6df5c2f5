import type { RecordedEvent } from './event-store.js';

/** What auditors read of an archive: readers merge it with the live store by global position. */
export interface ArchiveReader {
  /** Reads the archive forwards from `fromPosition` (inclusive). */
  cursor(fromPosition: bigint): ArchiveCursor;
  /** The archived events with these ids, keyed by event id. */
  readEvents(ids: readonly string[]): Promise<ReadonlyMap<string, RecordedEvent>>;
}

/**
 * Where retention puts the events it trims, so that the history stays whole for auditors. An
 * adapter writes to it before deleting. (A server store may archive in its own tables instead,
 * in the trim's transaction, and offer only an `ArchiveReader`.)
 */
export interface EventArchive extends ArchiveReader {
  /**
   * Stores trimmed events durably before the store deletes them. Synchronous: it runs inside the
   * store's delete transaction. Archiving an event again (a retried trim) is harmless.
   */
  write(events: readonly RecordedEvent[]): void;
}

export interface ArchiveCursor {
  /**
   * The archived events after those already read, up to `position` (inclusive), each once, in
   * position order. Each call also finds what was archived since the previous one.
   */
  upTo(position: bigint): AsyncIterable<RecordedEvent>;
}
