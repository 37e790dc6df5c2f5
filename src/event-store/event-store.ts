/**
 * The event store port. Every adapter (SQLite, PostgreSQL, EventStoreDB) implements it and
 * passes the shared contract suite in `event-store.contract.ts`.
 *
 * Revisions and positions follow EventStoreDB: a stream's first event has revision 0, and
 * both are `bigint`; convert to strings only at the HTTP/MCP/CLI edge.
 */

/** What the writer believes about the stream it appends to. */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

export type JsonObject = { [key: string]: unknown };

export interface NewEvent {
  /** A UUID chosen by the writer; a retried append with the same ids writes nothing. */
  readonly id: string;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata?: JsonObject;
}

export interface RecordedEvent {
  readonly id: string;
  readonly stream: string;
  readonly revision: bigint;
  /** Global position in `$all`: strictly increasing in commit order. */
  readonly position: bigint;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata: JsonObject;
  readonly recordedAt: Date;
}

/** A recorded event whose data and metadata are still their JSON text, as a store keeps them. */
export interface UndecodedEvent extends Omit<RecordedEvent, 'data' | 'metadata'> {
  readonly data: string;
  readonly metadata: string;
}

export interface AppendResult {
  /** Revision of the last event written: pass it as `expectedRevision` of the next append. */
  readonly nextExpectedRevision: bigint;
  /** Global position of the last event written. */
  readonly position: bigint;
}

export interface AppendOptions {
  /**
   * The time to record instead of the store's clock: for imports only (`failsafe store copy`
   * keeps each event's original time, which audits, retention and the reconciler's age checks read).
   * An adapter that cannot keep it must refuse it rather than stamp another time.
   */
  readonly recordedAt?: Date;
}

export type Direction = 'forwards' | 'backwards';

export interface ReadStreamOptions {
  readonly direction?: Direction;
  /** Inclusive. Defaults to the first event (forwards) or the last (backwards). */
  readonly fromRevision?: bigint;
  readonly maxCount?: number;
}

export interface ReadAllOptions {
  readonly direction?: Direction;
  /** Inclusive. Defaults to the start (forwards) or the end (backwards). */
  readonly fromPosition?: bigint;
  readonly maxCount?: number;
}

export interface SubscribeOptions {
  /**
   * The checkpoint the consumer stored: delivery starts strictly after it, as in EventStoreDB.
   * Omitted: from the very first event. `'end'`: only events appended from now on.
   */
  readonly after?: bigint | 'end';
}

/** Catch-up, then live. Iterate it; `close()` (or leaving the loop) ends it. */
export interface Subscription extends AsyncIterable<RecordedEvent> {
  close(): Promise<void>;
}

/** Per-stream retention, so that high-volume streams (health samples) stay bounded. */
export interface StreamMetadata {
  readonly maxAgeSeconds?: number;
  readonly maxCount?: number;
}

export interface EventStore {
  append(
    stream: string,
    events: readonly NewEvent[],
    expectedRevision: ExpectedRevision,
    options?: AppendOptions,
  ): Promise<AppendResult>;
  readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent>;
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;
  /** One event by id (auditors walk causation chains with it); undefined when absent or trimmed. */
  readEvent(id: string): Promise<RecordedEvent | undefined>;
  subscribe(options?: SubscribeOptions): Subscription;
  /** Position of the newest event in `$all`, 0n when the store is empty. */
  headPosition(): Promise<bigint>;
  setStreamMetadata(stream: string, metadata: StreamMetadata): Promise<void>;
  getStreamMetadata(stream: string): Promise<StreamMetadata>;
  /** Deletes the stream for good: reading or appending to it afterwards throws `StreamDeleted`. */
  deleteStream(stream: string, expectedRevision: ExpectedRevision): Promise<void>;
  close(): Promise<void>;
}
