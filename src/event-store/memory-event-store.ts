import {
  assertExpectedRevision,
  assertRevisionHolds,
  assertStreamMetadata,
  assertStreamName,
  prepareAppend,
  recordedAtOf,
  type SerializedEvent,
} from './append-input.js';
import { DuplicateEventId, StoreClosed, StreamDeleted } from './errors.js';
import type { EventArchive } from './event-archive.js';
import type {
  AppendOptions,
  AppendResult,
  EventStore,
  ExpectedRevision,
  JsonObject,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamMetadata,
  SubscribeOptions,
  Subscription,
} from './event-store.js';
import { MemoryEventArchive } from './memory-event-archive.js';
import { pollingSubscription } from './polling-subscription.js';
import { trimDue } from './retention.js';
import { systemClock, type Clock } from '../runtime/clock.js';

export interface MemoryEventStoreOptions {
  /** Where retention puts what it trims (default: a fresh `MemoryEventArchive`). */
  readonly archive?: EventArchive;
  /** Stamps appends and dates retention (default the system clock). */
  readonly clock?: Clock;
}

/** An event as kept: data serialised, so that no caller can change what was stored. */
interface StoredEvent {
  readonly position: bigint;
  readonly id: string;
  readonly stream: string;
  readonly revision: bigint;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
  readonly recordedAt: number;
}

interface StreamState {
  lastRevision: bigint;
  deleted: boolean;
  maxAgeMs?: number;
  maxCount?: number;
  /** Its live events, by revision. */
  readonly events: StoredEvent[];
}

const PAGE = 500;

/** The first index in `items` (sorted by `key`) whose key is at least `at`. */
function lowerBound(items: readonly StoredEvent[], key: (e: StoredEvent) => bigint, at: bigint): number {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (key(items[middle]!) < at) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The first revision the stream's maxCount keeps. */
const firstKept = (state: StreamState): bigint => {
  if (state.maxCount === undefined) return 0n;
  const first = state.lastRevision - BigInt(state.maxCount) + 1n;
  return first > 0n ? first : 0n;
};

/** Events recorded before this (ms since the epoch) are past the stream's maxAge. */
const ageCutoff = (state: StreamState, now: number): number =>
  state.maxAgeMs === undefined ? Number.NEGATIVE_INFINITY : now - state.maxAgeMs;

const byPosition = (e: StoredEvent) => e.position;
const byRevision = (e: StoredEvent) => e.revision;

const decode = (e: StoredEvent): RecordedEvent => ({
  position: e.position,
  id: e.id,
  stream: e.stream,
  revision: e.revision,
  type: e.type,
  data: JSON.parse(e.data) as JsonObject,
  metadata: JSON.parse(e.metadata) as JsonObject,
  recordedAt: new Date(e.recordedAt),
});

/**
 * The event store in this process's memory, for fast tests of logic that needs a store: it passes
 * the same contract as the durable adapters, but one process only, and gone when the process ends.
 */
export class MemoryEventStore implements EventStore {
  /** Live events in position order. */
  private readonly log: StoredEvent[] = [];
  /** Live events by id. As in the SQLite store, a trimmed event's id is forgotten. */
  private readonly live = new Map<string, StoredEvent>();
  private readonly streams = new Map<string, StreamState>();
  private readonly waiters = new Set<() => void>();
  private readonly subscriptions = new Set<Subscription>();
  private head = 0n;
  private closed = false;
  readonly archive: EventArchive;
  private readonly clock: Clock;

  constructor(options: MemoryEventStoreOptions = {}) {
    this.archive = options.archive ?? new MemoryEventArchive();
    this.clock = options.clock ?? systemClock;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosed();
  }

  private streamOf(name: string): StreamState {
    let state = this.streams.get(name);
    if (!state) {
      state = { lastRevision: -1n, deleted: false, events: [] };
      this.streams.set(name, state);
    }
    return state;
  }

  async append(
    stream: string,
    events: readonly NewEvent[],
    expectedRevision: ExpectedRevision,
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    const prepared = prepareAppend(stream, events, expectedRevision);
    const now = this.clock.now();
    const recordedAt = recordedAtOf(options, now).getTime();
    this.assertOpen();
    const retried = this.alreadyAppended(stream, prepared);
    if (retried) return retried;
    const existing = this.streams.get(stream);
    if (existing?.deleted) throw new StreamDeleted(stream);
    assertRevisionHolds(stream, expectedRevision, existing?.lastRevision ?? -1n);
    const taken = prepared.find((event) => this.live.has(event.id));
    if (taken) throw new DuplicateEventId(taken.id, 'is already stored as part of another append');
    const state = this.streamOf(stream);
    for (const event of prepared) {
      this.head += 1n;
      state.lastRevision += 1n;
      const stored = { ...event, stream, position: this.head, revision: state.lastRevision, recordedAt };
      state.events.push(stored);
      this.log.push(stored);
      this.live.set(stored.id, stored);
    }
    this.applyRetention(state, now.getTime());
    for (const wake of this.waiters) wake();
    this.waiters.clear();
    return { nextExpectedRevision: state.lastRevision, position: this.head };
  }

  /** A retried append whose events are all stored already returns the original result. */
  private alreadyAppended(stream: string, events: readonly SerializedEvent[]): AppendResult | undefined {
    const first = this.live.get(events[0]!.id);
    if (!first) return undefined;
    const found = events.map((event, index) => {
      const at = this.live.get(event.id);
      if (!at || at.stream !== stream || at.revision !== first.revision + BigInt(index)) {
        throw new DuplicateEventId(
          event.id,
          at
            ? `is already stored in stream "${at.stream}" at revision ${at.revision}`
            : 'was part of an earlier append whose other events differ',
        );
      }
      return at;
    });
    const last = found.at(-1)!;
    return { nextExpectedRevision: last.revision, position: last.position };
  }

  /**
   * Archives and drops what the stream's limits no longer keep once a tenth of the limit is due, as
   * the SQLite store does (reads hide it at once), so that trims come in batches.
   */
  private applyRetention(state: StreamState, now: number): void {
    const oldest = state.events[0];
    if (!oldest) return;
    const keepFrom = firstKept(state);
    const cutoff = ageCutoff(state, now);
    if (!trimDue(state, Number(keepFrom - oldest.revision), oldest.recordedAt, cutoff)) return;
    const expired = state.events.filter((e) => e.revision < keepFrom || e.recordedAt < cutoff);
    this.archive.write(expired.map(decode));
    const gone = new Set(expired);
    state.events.splice(0, state.events.length, ...state.events.filter((e) => !gone.has(e)));
    this.log.splice(0, this.log.length, ...this.log.filter((e) => !gone.has(e)));
    for (const e of expired) this.live.delete(e.id);
  }

  async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    assertStreamName(stream);
    this.assertOpen();
    const state = this.streams.get(stream);
    if (!state) return;
    if (state.deleted) throw new StreamDeleted(stream);
    const backwards = options.direction === 'backwards';
    let next = options.fromRevision ?? (backwards ? state.lastRevision : 0n);
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    while (remaining > 0) {
      this.assertOpen();
      // What the limits no longer keep is hidden at once, before a trim drops it.
      const lowest = firstKept(state);
      const cutoff = ageCutoff(state, this.clock.now().getTime());
      const kept = (e: StoredEvent | undefined): e is StoredEvent =>
        e !== undefined && e.revision >= lowest && e.recordedAt >= cutoff;
      const index = lowerBound(state.events, byRevision, next);
      let event: StoredEvent | undefined;
      if (backwards) {
        event = state.events[state.events[index]?.revision === next ? index : index - 1];
        if (!kept(event)) return;
        next = event.revision - 1n;
      } else {
        let at = index;
        while (at < state.events.length && !kept(state.events[at])) at += 1;
        event = state.events[at];
        if (!event) return;
        next = event.revision + 1n;
      }
      remaining -= 1;
      yield decode(event);
    }
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    const backwards = options.direction === 'backwards';
    let next = options.fromPosition ?? (backwards ? this.head : 0n);
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    while (remaining > 0) {
      this.assertOpen();
      const index = lowerBound(this.log, byPosition, next);
      const at = backwards ? (this.log[index]?.position === next ? index : index - 1) : index;
      const event = this.log[at];
      if (!event) return;
      next = event.position + (backwards ? -1n : 1n);
      remaining -= 1;
      yield decode(event);
    }
  }

  async readEvent(id: string): Promise<RecordedEvent | undefined> {
    this.assertOpen();
    const event = this.live.get(String(id).toLowerCase());
    return event && decode(event);
  }

  subscribe(options: SubscribeOptions = {}): Subscription {
    this.assertOpen();
    // An append between reading a page and waiting must not be slept through: wait only when
    // nothing was appended since the last read.
    let headWhenRead = 0n;
    const subscription = pollingSubscription({
      after: options.after === 'end' ? this.head : (options.after ?? 0n),
      readPage: (after) => {
        this.assertOpen();
        headWhenRead = this.head;
        const from = lowerBound(this.log, byPosition, after + 1n);
        return this.log.slice(from, from + PAGE).map(decode);
      },
      waitForAppend: async (signal) => {
        if (this.head === headWhenRead) await this.waitForAppend(signal);
      },
      onClose: () => this.subscriptions.delete(subscription),
    });
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** Resolves on the next append (all appends are in this process) or when `signal` aborts. */
  private waitForAppend(signal: AbortSignal): Promise<void> {
    return new Promise((resolveWait) => {
      const done = () => {
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolveWait();
      };
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  async headPosition(): Promise<bigint> {
    this.assertOpen();
    return this.head;
  }

  async setStreamMetadata(stream: string, metadata: StreamMetadata): Promise<void> {
    assertStreamName(stream);
    assertStreamMetadata(metadata);
    this.assertOpen();
    if (this.streams.get(stream)?.deleted) throw new StreamDeleted(stream);
    const state = this.streamOf(stream);
    state.maxAgeMs = metadata.maxAgeSeconds === undefined ? undefined : metadata.maxAgeSeconds * 1000;
    state.maxCount = metadata.maxCount;
    this.applyRetention(state, this.clock.now().getTime());
  }

  async getStreamMetadata(stream: string): Promise<StreamMetadata> {
    assertStreamName(stream);
    this.assertOpen();
    const state = this.streams.get(stream);
    if (state?.deleted) throw new StreamDeleted(stream);
    return {
      ...(state?.maxAgeMs !== undefined && { maxAgeSeconds: state.maxAgeMs / 1000 }),
      ...(state?.maxCount !== undefined && { maxCount: state.maxCount }),
    };
  }

  async deleteStream(stream: string, expectedRevision: ExpectedRevision): Promise<void> {
    assertStreamName(stream);
    assertExpectedRevision(expectedRevision);
    this.assertOpen();
    const state = this.streams.get(stream);
    if (state?.deleted) throw new StreamDeleted(stream);
    assertRevisionHolds(stream, expectedRevision, state?.lastRevision ?? -1n);
    this.streamOf(stream).deleted = true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    this.closed = true;
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }
}
