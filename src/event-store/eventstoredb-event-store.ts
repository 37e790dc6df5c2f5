/**
 * The EventStoreDB / KurrentDB adapter: streams, expected revisions, `$all` and catch-up
 * subscriptions map one to one onto the server's.
 *
 * Client: `@kurrent/kurrentdb-client`, the renamed successor of `@eventstore/db-client` the user
 * named: same API, same gRPC protocol (this adapter needs EventStoreDB 22.6 or later). Chosen because
 * `@eventstore/db-client` is frozen at 6.2.1 (May 2024; every later fix, e.g. to grpc-js, ships only
 * in the new package), does not accept `kurrentdb://` URLs, and declares Node 12+, where the new one
 * declares Node 20+ like Failsafe. Its reads go through a Rust addon, `@kurrent/bridge`, whose
 * prebuilt binaries come from the npm registry (nothing is downloaded from elsewhere).
 *
 * Where the port asks for more than the server does natively:
 * - Event ids are unique across streams, and `readEvent(id)` finds an event: after each append the
 *   adapter claims every id in a stream of its own, `[prefix]failsafe-event-id-<id>` (one `$failsafe-claim`
 *   event: stream, revision, position), written with `no_stream`. Before an append it reads the
 *   claims: ids already stored where this append would put them are a retry (the original result is
 *   returned, nothing is written, whatever the expected revision); ids stored elsewhere are refused.
 *   EventStoreDB has no atomic write across two streams before 25.1, so two *concurrent* appends of
 *   one id to two streams can both be stored; the later claim then fails and that append throws
 *   `DuplicateEventId` after its events were written.
 * - A position is the event's commit position in `$all`. Claims, metadata and tombstones are system
 *   events (type `$…`), left out of `readAll`, `subscribe` and `headPosition` by the server's filter.
 * - Retention is the server's own `$maxCount` / `$maxAge`: reads hide old events at once and
 *   scavenging deletes them later, without archiving them first (see the README).
 */
import {
  BACKWARDS,
  END,
  ErrorType,
  excludeSystemEvents,
  FORWARDS,
  isCommandError,
  KurrentDBClient,
  START,
  streamNameFilter,
  type AllStreamSubscription,
  type EventData,
  type ReadPosition,
  type ReadRevision,
  type RecordedEvent as ClientRecordedEvent,
} from '@kurrent/kurrentdb-client';
import { createHash } from 'node:crypto';
import {
  assertExpectedRevision,
  assertStreamMetadata,
  assertStreamName,
  prepareAppend,
  type SerializedEvent,
  streamNameProblem,
} from './append-input.js';
import {
  DuplicateEventId,
  EventStoreError,
  InvalidEvent,
  StoreClosed,
  StreamDeleted,
  WrongExpectedRevision,
} from './errors.js';
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
import { describeStore, InvalidStoreUrl } from './store-url.js';

/** The server did not answer, or answered that it cannot serve now. */
export class EventStoreDBUnavailable extends EventStoreError {
  readonly code = 'EVENTSTOREDB_UNAVAILABLE';
  constructor(
    readonly where: string,
    detail: string,
  ) {
    super(
      `EventStoreDBUnavailable: ${where} did not serve the request (${detail}); check that the server runs ` +
        'and that the URL names it (host, port, and ?tls=false for an insecure node)',
    );
  }
}

/** The server refused the URL's user. */
export class EventStoreDBAccessDenied extends EventStoreError {
  readonly code = 'EVENTSTOREDB_ACCESS_DENIED';
  constructor(readonly where: string) {
    super(
      `EventStoreDBAccessDenied: ${where} refused the request; put a user allowed to read and write ` +
        'every stream and to read $all (an admin) in the URL (kurrentdb://user:password@host:2113)',
    );
  }
}

const SCHEMES: Readonly<Record<string, string>> = {
  'esdb:': 'kurrentdb:',
  'esdb+discover:': 'kurrentdb+discover:',
  'kurrentdb:': 'kurrentdb:',
  'kurrentdb+discover:': 'kurrentdb+discover:',
};

/** The store URL's own query parameter: the stream prefix (see `EventStoreDBEventStoreOptions`). */
const PREFIX_PARAMETER = 'streamPrefix';

/**
 * What a store URL says: the client's connection string, where `esdb://` becomes `kurrentdb://`
 * (the client accepts both, but prints a deprecation warning for every `esdb` client it makes) and
 * the rest (credentials, hosts, `?tls=false`, …) is passed on as written; and the store's stream
 * prefix, `?streamPrefix=…`, which is the store's own and not the client's.
 */
export function parseEventStoreUrl(url: string): { readonly connectionString: string; readonly streamPrefix: string } {
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0].toLowerCase();
  const mapped = scheme ? SCHEMES[scheme] : undefined;
  if (!scheme || !mapped) throw new InvalidStoreUrl(url, 'is not an esdb:// or kurrentdb:// URL');
  const [base, query] = url.slice(scheme.length).split(/\?(.*)/s, 2) as [string, string | undefined];
  let streamPrefix = '';
  const kept = (query ?? '').split('&').filter((pair) => {
    const [key, value = ''] = pair.split('=', 2) as [string, string | undefined];
    if (key.toLowerCase() !== PREFIX_PARAMETER.toLowerCase()) return pair !== '';
    streamPrefix = decodeURIComponent(value);
    return false;
  });
  const problem = streamPrefix === '' ? undefined : streamNameProblem(streamPrefix);
  if (problem) throw new InvalidStoreUrl(url, `has a ${PREFIX_PARAMETER} that ${problem}`);
  return { connectionString: mapped + base + (kept.length > 0 ? `?${kept.join('&')}` : ''), streamPrefix };
}

/** Where a subscription starts: the server delivers strictly after a position, as the port does. */
export function subscriptionStart(after: SubscribeOptions['after']): ReadPosition {
  if (after === 'end') return END;
  // 0n is "before everything" for the port; the log's position 0 holds no event of ours.
  if (after === undefined || after === 0n) return START;
  return logPosition(after);
}

/** The port's position is the commit position; outside explicit (TCP-era) transactions prepare equals it. */
export const logPosition = (position: bigint) => ({ commit: position, prepare: position });

const NO_POSITION = 2n ** 64n - 1n;
/** Events per read of `$all`. */
const READ_PAGE = 500;
const CLAIM_PREFIX = 'failsafe-event-id-';
const CLAIM_TYPE = '$failsafe-claim';

/** Where an id is stored, as its claim says. */
export interface Claim {
  readonly stream: string;
  readonly revision: bigint;
  readonly position: bigint;
}

/**
 * What the claims of a batch's ids say about an append of it to `stream` with `expected`: nothing
 * claimed, a new append (undefined); every id claimed at consecutive revisions of `stream`, a retry of
 * it (its original result); some claimed so, exactly where `expected` puts the batch, a retry racing
 * its original while that writes its claims (undefined: the append itself settles it); anything else,
 * an id reused by another append.
 */
export function retriedAppend(
  stream: string,
  ids: readonly string[],
  claims: readonly (Claim | undefined)[],
  expected: ExpectedRevision,
): AppendResult | undefined {
  if (claims.every((claim) => claim === undefined)) return undefined;
  const elsewhere = claims.findIndex((claim) => claim && claim.stream !== stream);
  if (elsewhere >= 0) {
    const claim = claims[elsewhere]!;
    throw new DuplicateEventId(
      ids[elsewhere]!,
      `is already stored in stream "${claim.stream}" at revision ${claim.revision}`,
    );
  }
  const claimed = claims.findIndex((claim) => claim !== undefined);
  const base = claims[claimed]!.revision - BigInt(claimed);
  const differs = claims.findIndex((claim, index) =>
    claim === undefined ? base !== placedAt(expected) : claim.revision !== base + BigInt(index),
  );
  if (differs >= 0) {
    throw new DuplicateEventId(ids[differs]!, 'was part of an earlier append whose other events differ');
  }
  const last = claims[claims.length - 1];
  return last && { nextExpectedRevision: last.revision, position: last.position };
}

/** The revision an append with this expected revision gives its first event, when it says one. */
const placedAt = (expected: ExpectedRevision): bigint | undefined =>
  expected === 'no_stream' ? 0n : typeof expected === 'bigint' ? expected + 1n : undefined;

/** A client error as the port's: what the caller can act on gets the port's type, the rest passes. */
export function toStoreError(
  error: unknown,
  context: { readonly where: string; readonly stream?: string; readonly expected?: ExpectedRevision },
): unknown {
  if (error instanceof EventStoreError || !(error instanceof Error) || !isCommandError(error)) return error;
  switch (error.type) {
    case ErrorType.WRONG_EXPECTED_VERSION:
      // Our own expected revision: some clients and servers echo a wrong one (KurrentDB-Client-Java#362).
      return new WrongExpectedRevision(
        context.stream ?? error.streamName,
        context.expected ?? error.expectedState,
        error.actualState,
      );
    case ErrorType.STREAM_DELETED:
      return new StreamDeleted(context.stream ?? error.streamName);
    case ErrorType.STREAM_TOMBSTONED:
      return new StreamDeleted(context.stream ?? error.stream);
    case ErrorType.UNAVAILABLE:
    case ErrorType.DEADLINE_EXCEEDED:
    case ErrorType.TIMEOUT:
    case ErrorType.NOT_LEADER:
      return new EventStoreDBUnavailable(context.where, error.message);
    case ErrorType.ACCESS_DENIED:
      return new EventStoreDBAccessDenied(context.where);
    default:
      return error;
  }
}

const isPlainObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);

/** Data or metadata as the port gives it: a JSON object (`{}` when the event has none). */
function jsonObject(value: unknown, what: string): JsonObject {
  if (value === undefined) return {};
  const parsed = value instanceof Uint8Array ? JSON.parse(Buffer.from(value).toString('utf8')) : value;
  if (!isPlainObject(parsed)) throw new TypeError(`${what} is not a JSON object: not an event Failsafe wrote`);
  return parsed;
}

/** The event's commit position in `$all`. */
function positionOf(event: ClientRecordedEvent): bigint {
  // Servers before 22.x give no position on stream reads (EventStore PR 3459): max uint64, or none.
  if (!event.position || event.position.commit === NO_POSITION) {
    throw new TypeError(
      `event ${event.id} came without its position in $all: Failsafe needs an EventStoreDB that gives ` +
        'positions on stream reads (22.6 or later)',
    );
  }
  return event.position.commit;
}

/** A recorded event of the client as the port's. */
export function fromClientEvent(event: ClientRecordedEvent): RecordedEvent {
  const position = positionOf(event);
  const where = `event ${event.id} of stream "${event.streamId}"`;
  return {
    id: event.id.toLowerCase(),
    stream: event.streamId,
    revision: BigInt(event.revision),
    position,
    type: event.type,
    data: jsonObject(event.data, `the data of ${where}`),
    metadata: jsonObject(event.metadata, `the metadata of ${where}`),
    recordedAt: event.created,
  };
}

function claimOf(event: RecordedEvent): Claim {
  const { stream, revision, position } = event.data;
  if (typeof stream !== 'string' || typeof revision !== 'string' || typeof position !== 'string') {
    throw new TypeError(`claim ${event.stream} is not one Failsafe wrote`);
  }
  return { stream, revision: BigInt(revision), position: BigInt(position) };
}

/** The claim's own event id, from what it claims: writing the same claim again is idempotent. */
function claimEventId(id: string, stream: string, revision: bigint): string {
  const hex = createHash('sha256').update(`${id}\n${stream}\n${revision}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

const toEventData = (event: SerializedEvent, original: NewEvent): EventData => ({
  id: event.id,
  contentType: 'application/json',
  type: event.type,
  data: original.data,
  metadata: original.metadata ?? {},
});

export interface EventStoreDBEventStoreOptions {
  /**
   * `esdb://…` or `kurrentdb://…`, with `+discover` for gossip seeds; `?tls=false` for an insecure
   * node. `&streamPrefix=…` is prepended to every stream name on the server, so that several stores
   * share one server: `$all`, subscriptions and the head then see only this store's streams.
   * Without it the store is the whole server.
   */
  readonly url: string;
}

interface RawRead {
  readonly direction: 'forwards' | 'backwards';
  readonly from: ReadRevision | ReadPosition;
  readonly maxCount: number;
}

type Resolved = { readonly event?: ClientRecordedEvent };

/** The events of a client read, with client errors as the port's. */
async function* clientEvents(
  source: AsyncIterable<Resolved>,
  failure: (error: unknown) => unknown,
): AsyncIterable<ClientRecordedEvent> {
  const iterator = source[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<Resolved>;
    try {
      next = await iterator.next();
    } catch (error) {
      throw failure(error);
    }
    if (next.done) return;
    if (next.value.event) yield next.value.event;
  }
}

const NOT_FOUND = Symbol('stream not found');

export class EventStoreDBEventStore implements EventStore {
  private readonly subscriptions = new Set<Subscription>();
  private closed = false;

  private constructor(
    private readonly client: KurrentDBClient,
    /** The URL with any password masked, for errors. */
    readonly where: string,
    private readonly prefix: string,
  ) {}

  /** Connects and reads the head of `$all` once, so that a wrong URL or a down server fails here. */
  static async open(options: EventStoreDBEventStoreOptions): Promise<EventStoreDBEventStore> {
    const { connectionString, streamPrefix: prefix } = parseEventStoreUrl(options.url);
    const where = describeStore({ kind: 'eventstore', url: options.url });
    const client = KurrentDBClient.connectionString(connectionString);
    const store = new EventStoreDBEventStore(client, where, prefix);
    try {
      await store.headPosition();
      return store;
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosed();
  }

  private failure(error: unknown, stream?: string, expected?: ExpectedRevision): unknown {
    return toStoreError(error, {
      where: this.where,
      ...(stream !== undefined && { stream }),
      ...(expected !== undefined && { expected }),
    });
  }

  /** The stream's name on the server. */
  private named(stream: string): string {
    assertStreamName(stream);
    if (stream.startsWith(CLAIM_PREFIX)) {
      throw new InvalidEvent([{ path: 'stream', message: `must not start with "${CLAIM_PREFIX}" (event id claims)` }]);
    }
    return this.prefix + stream;
  }

  /** Where an id's claim lives: within the store's prefix, so that stores sharing a server stay apart. */
  private claimStream(id: string): string {
    return `${this.prefix}${CLAIM_PREFIX}${id}`;
  }

  /** A server event as this store's, or undefined when it is not one (another prefix, a system event). */
  private own(event: ClientRecordedEvent): RecordedEvent | undefined {
    if (!event.streamId.startsWith(this.prefix) || event.type.startsWith('$')) return undefined;
    const recorded = fromClientEvent(event);
    return { ...recorded, stream: recorded.stream.slice(this.prefix.length) };
  }

  async append(
    stream: string,
    events: readonly NewEvent[],
    expectedRevision: ExpectedRevision,
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    const prepared = prepareAppend(stream, events, expectedRevision);
    // The server stamps every write with its own time: refused rather than silently re-stamped.
    if (options.recordedAt !== undefined)
      throw new InvalidEvent([
        { path: 'options.recordedAt', message: 'EventStoreDB records its own time and cannot keep another' },
      ]);
    const name = this.named(stream);
    this.assertOpen();
    const ids = prepared.map((event) => event.id);
    const claims = await Promise.all(ids.map((id) => this.readClaim(id)));
    const retried = retriedAppend(name, ids, claims, expectedRevision);
    if (retried) return retried;
    let nextExpectedRevision: bigint;
    let answered: bigint | undefined;
    try {
      const written = await this.client.appendToStream(
        name,
        prepared.map((event, index) => toEventData(event, events[index]!)),
        { streamState: expectedRevision },
      );
      nextExpectedRevision = written.nextExpectedRevision;
      answered = written.position?.commit;
    } catch (error) {
      const failure = this.failure(error, stream, expectedRevision);
      // A retry racing its original (whose claims are not written yet) may be refused by the server.
      const original =
        failure instanceof WrongExpectedRevision ? await this.storedAt(name, ids, expectedRevision) : undefined;
      if (original === undefined) throw failure;
      nextExpectedRevision = original;
    }
    // Read back for each event's position, which its claim keeps (the append answers one position).
    const first = nextExpectedRevision - BigInt(prepared.length) + 1n;
    const stored = await this.readRaw(name, { direction: 'forwards', from: first, maxCount: prepared.length });
    const back = stored === NOT_FOUND ? [] : stored;
    await Promise.all(back.map((event) => this.claim(event)));
    const last = back.at(-1);
    const position = last?.revision === nextExpectedRevision ? last.position : answered;
    if (position === undefined) throw new TypeError(`the append to "${stream}" was answered without a position`);
    return { nextExpectedRevision, position };
  }

  /**
   * The revision of the last of `ids` when they are stored, in order, exactly where an append with
   * this expected revision put them; undefined otherwise (or when `any`/`stream_exists` say no place).
   */
  private async storedAt(
    name: string,
    ids: readonly string[],
    expected: ExpectedRevision,
  ): Promise<bigint | undefined> {
    const from = placedAt(expected);
    if (from === undefined) return undefined;
    const stored = await this.readRaw(name, { direction: 'forwards', from, maxCount: ids.length });
    if (stored === NOT_FOUND || stored.length !== ids.length) return undefined;
    const same = stored.every((event, index) => event.id === ids[index] && event.revision === from + BigInt(index));
    return same ? from + BigInt(ids.length) - 1n : undefined;
  }

  /** Claims the event's id for its stream and revision; refused when another append claimed it first. */
  private async claim(event: RecordedEvent): Promise<void> {
    const claim = {
      id: claimEventId(event.id, event.stream, event.revision),
      contentType: 'application/json' as const,
      type: CLAIM_TYPE,
      data: { stream: event.stream, revision: String(event.revision), position: String(event.position) },
      metadata: {},
    };
    try {
      await this.client.appendToStream(this.claimStream(event.id), [claim], { streamState: 'no_stream' });
    } catch (error) {
      const failure = this.failure(error, this.claimStream(event.id), 'no_stream');
      if (!(failure instanceof WrongExpectedRevision)) throw failure;
      const other = await this.readClaim(event.id);
      // The same claim, written by a retry of this append racing it: nothing to refuse.
      if (other?.stream === event.stream && other.revision === event.revision) return;
      throw new DuplicateEventId(
        event.id,
        `was also appended to stream "${other?.stream}" at revision ${other?.revision} by a concurrent append`,
      );
    }
  }

  private async readClaim(id: string): Promise<Claim | undefined> {
    const events = await this.readRaw(this.claimStream(id), { direction: 'forwards', from: START, maxCount: 1 });
    return events === NOT_FOUND || !events[0] ? undefined : claimOf(events[0]);
  }

  /** Events of a server stream, by server name; a stream that does not exist is NOT_FOUND. */
  private async readRaw(stream: string, read: RawRead): Promise<RecordedEvent[] | typeof NOT_FOUND> {
    const out: RecordedEvent[] = [];
    try {
      for await (const event of this.streamEvents(stream, read)) out.push(fromClientEvent(event));
    } catch (error) {
      if (error === NOT_FOUND) return NOT_FOUND;
      throw error;
    }
    return out;
  }

  private streamEvents(stream: string, read: RawRead): AsyncIterable<ClientRecordedEvent> {
    this.assertOpen();
    const source = this.client.readStream(stream, {
      direction: read.direction === 'backwards' ? BACKWARDS : FORWARDS,
      fromRevision: read.from as ReadRevision,
      maxCount: read.maxCount,
    });
    return clientEvents(source, (error) =>
      error instanceof Error && isCommandError(error) && error.type === ErrorType.STREAM_NOT_FOUND
        ? NOT_FOUND
        : this.failure(error, stream.slice(this.prefix.length)),
    );
  }

  async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    const name = this.named(stream);
    const backwards = options.direction === 'backwards';
    const maxCount = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    if (maxCount <= 0) return;
    const read: RawRead = {
      direction: backwards ? 'backwards' : 'forwards',
      from: options.fromRevision ?? (backwards ? END : START),
      maxCount,
    };
    try {
      for await (const event of this.streamEvents(name, read)) {
        const mine = this.own(event);
        if (mine) yield mine;
      }
    } catch (error) {
      if (error !== NOT_FOUND) throw error;
    }
  }

  /** This store's part of `$all`: its streams' events, without system events (claims, metadata, tombstones). */
  private async *allEvents(read: RawRead): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    const backwards = read.direction === 'backwards';
    let remaining = read.maxCount;
    let from = read.from as ReadPosition;
    let last: bigint | undefined;
    // In bounded pages, each from the last event seen: the client cannot cancel a read it started,
    // and tombstones pass the server's stream filter, so what the page holds is counted here.
    while (remaining > 0) {
      const page = Math.min(remaining + 1, READ_PAGE);
      const source = this.client.readAll({
        direction: backwards ? BACKWARDS : FORWARDS,
        fromPosition: from,
        maxCount: page,
        filter: this.filter(),
      });
      let seen = 0;
      for await (const event of clientEvents(source, (error) => this.failure(error))) {
        seen += 1;
        const position = positionOf(event);
        if (last !== undefined && (backwards ? position >= last : position <= last)) continue;
        last = position;
        const mine = this.own(event);
        if (!mine) continue;
        yield mine;
        remaining -= 1;
        if (remaining === 0) return;
      }
      if (seen < page || last === undefined) return;
      from = logPosition(last);
    }
  }

  /** Left to the server: its streams when prefixed (tombstones are then skipped here), else no system events. */
  private filter() {
    return this.prefix === '' ? excludeSystemEvents() : streamNameFilter({ prefixes: [this.prefix] });
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    const maxCount = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const from = options.fromPosition;
    if (options.direction !== 'backwards') {
      const start = from === undefined || from === 0n ? START : logPosition(from);
      yield* this.allEvents({ direction: 'forwards', from: start, maxCount });
      return;
    }
    if (from === undefined) {
      yield* this.allEvents({ direction: 'backwards', from: END, maxCount });
      return;
    }
    // The port's start is inclusive; the server's backwards read from a position may not be:
    // take the event at `from` forwards, then the older ones, each once.
    let remaining = maxCount;
    for await (const event of this.allEvents({ direction: 'forwards', from: logPosition(from), maxCount: 1 })) {
      if (event.position === from && remaining > 0) {
        yield event;
        remaining -= 1;
      }
    }
    if (remaining <= 0) return;
    const older = this.allEvents({ direction: 'backwards', from: logPosition(from), maxCount: remaining + 1 });
    for await (const event of older) {
      if (event.position >= from) continue;
      yield event;
      remaining -= 1;
      if (remaining === 0) return;
    }
  }

  async readEvent(id: string): Promise<RecordedEvent | undefined> {
    const key = String(id).toLowerCase();
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(key)) return undefined;
    const claim = await this.readClaim(key);
    if (!claim) return undefined;
    try {
      const read: RawRead = { direction: 'forwards', from: claim.revision, maxCount: 1 };
      for await (const event of this.streamEvents(claim.stream, read)) {
        return event.id.toLowerCase() === key ? this.own(event) : undefined;
      }
      return undefined;
    } catch (error) {
      if (error === NOT_FOUND || error instanceof StreamDeleted) return undefined;
      throw error;
    }
  }

  subscribe(options: SubscribeOptions = {}): Subscription {
    this.assertOpen();
    // 'end' is the head when subscribe is called: the server would take its own end when the
    // subscription reaches it, after appends the caller may make meanwhile.
    const head = options.after === 'end' ? this.headPosition() : undefined;
    head?.catch(() => undefined);
    let source: AllStreamSubscription | undefined;
    let released = false;
    const store = this;
    async function* events(): AsyncGenerator<ClientRecordedEvent> {
      const after = head ? await head : options.after;
      if (released) return;
      source = store.client.subscribeToAll({ fromPosition: subscriptionStart(after), filter: store.filter() });
      yield* clientEvents(source, (error) => store.failure(error));
    }
    const subscription = catchUpSubscription(
      events(),
      (event) => this.own(event),
      async () => {
        released = true;
        this.subscriptions.delete(subscription);
        const opened = source;
        if (opened) await opened.unsubscribe().finally(() => opened.destroy());
      },
    );
    this.subscriptions.add(subscription);
    return subscription;
  }

  async headPosition(): Promise<bigint> {
    for await (const last of this.allEvents({ direction: 'backwards', from: END, maxCount: 1 })) return last.position;
    return 0n;
  }

  async setStreamMetadata(stream: string, metadata: StreamMetadata): Promise<void> {
    const name = this.named(stream);
    assertStreamMetadata(metadata);
    this.assertOpen();
    try {
      await this.client.setStreamMetadata(name, {
        ...(metadata.maxCount !== undefined && { maxCount: metadata.maxCount }),
        ...(metadata.maxAgeSeconds !== undefined && { maxAge: metadata.maxAgeSeconds }),
      });
    } catch (error) {
      throw this.failure(error, stream);
    }
  }

  async getStreamMetadata(stream: string): Promise<StreamMetadata> {
    const name = this.named(stream);
    this.assertOpen();
    try {
      const { metadata } = await this.client.getStreamMetadata(name);
      return {
        ...(metadata?.maxAge !== undefined && { maxAgeSeconds: metadata.maxAge }),
        ...(metadata?.maxCount !== undefined && { maxCount: metadata.maxCount }),
      };
    } catch (error) {
      throw this.failure(error, stream);
    }
  }

  /** A tombstone: the server refuses the stream's name for good, as the port asks. */
  async deleteStream(stream: string, expectedRevision: ExpectedRevision): Promise<void> {
    const name = this.named(stream);
    assertExpectedRevision(expectedRevision);
    this.assertOpen();
    let expected: 'any' | 'no_stream' | bigint;
    if (expectedRevision === 'stream_exists') {
      // A tombstone takes no stream_exists: check it against the stream's last revision.
      const events = await this.readRaw(name, { direction: 'backwards', from: END, maxCount: 1 });
      const last = events === NOT_FOUND ? undefined : events[0];
      if (!last) throw new WrongExpectedRevision(stream, expectedRevision, 'no_stream');
      expected = last.revision;
    } else {
      expected = expectedRevision;
    }
    try {
      await this.client.tombstoneStream(name, { expectedRevision: expected });
    } catch (error) {
      throw this.failure(error, stream, expectedRevision);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    this.closed = true;
    await this.client.dispose();
  }
}

/**
 * A client subscription as the port's: events that are not this store's are skipped, and closing
 * ends the iteration at once, even while it waits for the next event.
 */
export function catchUpSubscription<T>(
  source: AsyncIterable<T>,
  keep: (event: T) => RecordedEvent | undefined,
  release: () => Promise<void>,
): Subscription {
  let stop: () => void = () => {};
  const stopped = new Promise<undefined>((resolveStop) => {
    stop = () => resolveStop(undefined);
  });
  let released: Promise<void> | undefined;
  const close = (): Promise<void> => {
    stop();
    released ??= release().catch(() => undefined);
    return released;
  };

  async function* deliver(): AsyncGenerator<RecordedEvent> {
    const iterator = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await Promise.race([iterator.next(), stopped]);
        if (!next || next.done) return;
        const mine = keep(next.value);
        if (mine) yield mine;
      }
    } finally {
      await close();
    }
  }

  const iterator = deliver();
  return { [Symbol.asyncIterator]: () => iterator, close };
}
