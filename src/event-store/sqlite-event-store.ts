import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  assertExpectedRevision,
  assertRevisionHolds,
  assertStreamMetadata,
  assertStreamName,
  prepareAppend,
  recordedAtOf,
  type SerializedEvent,
} from './append-input.js';
import {
  DuplicateEventId,
  EventStoreError,
  ForeignStore,
  StoreBusy,
  StoreClosed,
  StoreCorrupt,
  StreamDeleted,
} from './errors.js';
import type { EventArchive } from './event-archive.js';
import { trimDue } from './retention.js';
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
  UndecodedEvent,
} from './event-store.js';
import { pollingSubscription } from './polling-subscription.js';
import { SegmentArchive } from './segment-archive.js';
import { SharedPages } from './shared-pages.js';
import { systemClock, type Clock } from '../runtime/clock.js';

/** "FSAF" in the database header marks a Failsafe event store; anything else is refused. */
const APPLICATION_ID = 0x46534146;
const SCHEMA_VERSION = 1;
const SQLITE_MAGIC = 'SQLite format 3\0';

export type SqliteSynchronous = 'FULL' | 'EXTRA';

export interface SqliteEventStoreOptions {
  /** The database file; created with its folder when missing. */
  readonly path: string;
  /**
   * FULL (the default) fsyncs the WAL on every commit, so an acknowledged append survives power
   * loss; NORMAL is not offered because it can lose the last commits.
   */
  readonly synchronous?: SqliteSynchronous;
  /** How long an append waits for another process's write lock. */
  readonly busyTimeoutMs?: number;
  /** How often a live subscription looks for events appended by other processes. */
  readonly livePollIntervalMs?: number;
  /** Rows fetched per query while reading; bounds memory however long the history. */
  readonly readPageSize?: number;
  /** Where retention puts what it trims; default: gzip'd segment files in the folder `<path>.archive`. */
  readonly archive?: EventArchive;
  /** Stamps appends and dates retention (default the system clock). */
  readonly clock?: Clock;
}

interface StreamRow {
  id: number;
  last_revision: number;
  deleted: number;
  max_age_ms: number | null;
  max_count: number | null;
}

type EventRow = [
  position: number,
  id: string,
  stream: string,
  revision: number,
  type: string,
  data: string,
  metadata: string,
  recordedAt: number,
];

const SCHEMA = `
CREATE TABLE streams (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  last_revision INTEGER NOT NULL DEFAULT -1,
  deleted INTEGER NOT NULL DEFAULT 0,
  max_age_ms INTEGER,
  max_count INTEGER
);
-- AUTOINCREMENT: a position is never reused, even after trimming the newest rows,
-- so a checkpoint stored by a consumer stays meaningful.
CREATE TABLE events (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  stream_id INTEGER NOT NULL REFERENCES streams(id),
  revision INTEGER NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  metadata TEXT NOT NULL,
  recorded_at INTEGER NOT NULL,
  UNIQUE (stream_id, revision)
);
`;

/**
 * How long a write that found the store locked past the busy timeout waits before each new try. The
 * busy timeout blocks the whole process; these waits are awaited, so it goes on serving meanwhile.
 */
const BUSY_RETRY_DELAYS_MS = [250, 1000];

function sqliteCode(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** Header check before SQLite touches the file: a foreign file must never be rewritten. */
function assertSqliteHeader(path: string): void {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return;
  }
  if (size === 0) return;
  const header = Buffer.alloc(16);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, header, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (header.toString('latin1') !== SQLITE_MAGIC) throw new StoreCorrupt(path, 'not a SQLite database file');
}

const retentionCutoff = (row: Pick<StreamRow, 'max_age_ms'>, now: number): number =>
  row.max_age_ms === null ? Number.NEGATIVE_INFINITY : now - row.max_age_ms;

const firstKeptRevision = (row: Pick<StreamRow, 'max_count' | 'last_revision'>): number =>
  row.max_count === null ? 0 : Math.max(0, row.last_revision - row.max_count + 1);

/** The embedded default store: one SQLite file in WAL mode, durable on every acknowledged append. */
export class SqliteEventStore implements EventStore {
  private readonly waiters = new Set<() => void>();
  private readonly subscriptions = new Set<Subscription>();
  private closed = false;
  private readonly statements;
  private readonly appendTransaction;
  /** Read models catching up together share their subscriptions' pages, each decoded once. */
  private readonly subscriptionPages: SharedPages;

  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
    private readonly options: Required<Omit<SqliteEventStoreOptions, 'path'>>,
  ) {
    const sql = (text: string) => db.prepare(text);
    this.statements = {
      stream: sql('SELECT id, last_revision, deleted, max_age_ms, max_count FROM streams WHERE name = ?'),
      createStream: sql('INSERT INTO streams (name) VALUES (?)'),
      setRevision: sql('UPDATE streams SET last_revision = ? WHERE id = ?'),
      setDeleted: sql('UPDATE streams SET deleted = 1 WHERE id = ?'),
      setRetention: sql('UPDATE streams SET max_age_ms = ?, max_count = ? WHERE id = ?'),
      insert: sql(
        'INSERT INTO events (id, stream_id, revision, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      findEvent: sql(
        'SELECT e.position, e.revision, s.name AS stream ' +
          'FROM events e JOIN streams s ON s.id = e.stream_id WHERE e.id = ?',
      ),
      oldest: sql('SELECT revision, recorded_at FROM events WHERE stream_id = ? ORDER BY revision LIMIT 1'),
      expired: sql(
        `SELECT position, id, ?, revision, type, data, metadata, recorded_at FROM events
         WHERE stream_id = ? AND (revision < ? OR recorded_at < ?) ORDER BY position`,
      ).raw(),
      trim: sql('DELETE FROM events WHERE stream_id = ? AND (revision < ? OR recorded_at < ?)'),
      head: sql("SELECT seq FROM sqlite_sequence WHERE name = 'events'").pluck(),
      readEvent: sql(
        `SELECT e.position, e.id, s.name, e.revision, e.type, e.data, e.metadata, e.recorded_at
         FROM events e JOIN streams s ON s.id = e.stream_id WHERE e.id = ?`,
      ).raw(),
      readAllForwards: sql(
        `SELECT e.position, e.id, s.name, e.revision, e.type, e.data, e.metadata, e.recorded_at
         FROM events e JOIN streams s ON s.id = e.stream_id WHERE e.position >= ? ORDER BY e.position LIMIT ?`,
      ).raw(),
      readAllOfTypes: sql(
        `SELECT e.position, e.id, s.name, e.revision, e.type, e.data, e.metadata, e.recorded_at
         FROM events e JOIN streams s ON s.id = e.stream_id
         WHERE e.position >= ? AND e.type IN (SELECT value FROM json_each(?)) ORDER BY e.position LIMIT ?`,
      ).raw(),
      countFrom: sql('SELECT count(*) FROM (SELECT position FROM events WHERE position >= ? LIMIT ?)').pluck(),
      readAllBackwards: sql(
        `SELECT e.position, e.id, s.name, e.revision, e.type, e.data, e.metadata, e.recorded_at
         FROM events e JOIN streams s ON s.id = e.stream_id WHERE e.position <= ? ORDER BY e.position DESC LIMIT ?`,
      ).raw(),
      readStreamForwards: sql(
        `SELECT position, id, ?, revision, type, data, metadata, recorded_at FROM events
         WHERE stream_id = ? AND revision >= ? AND recorded_at >= ? ORDER BY revision LIMIT ?`,
      ).raw(),
      readStreamBackwards: sql(
        `SELECT position, id, ?, revision, type, data, metadata, recorded_at FROM events
         WHERE stream_id = ? AND revision <= ? AND revision >= ? AND recorded_at >= ? ORDER BY revision DESC LIMIT ?`,
      ).raw(),
    };
    this.appendTransaction = db.transaction(
      (stream: string, events: SerializedEvent[], expected: ExpectedRevision, stamp: number, now: number) =>
        this.appendInTransaction(stream, events, expected, stamp, now),
    );
    this.subscriptionPages = new SharedPages(
      {
        head: () => this.head(),
        read: (from, limit) => this.readAllPage(from, limit).map((r) => this.decode(r)),
      },
      options.readPageSize,
    );
  }

  static open(options: SqliteEventStoreOptions): SqliteEventStore {
    const path = resolve(options.path);
    mkdirSync(dirname(path), { recursive: true });
    assertSqliteHeader(path);
    let db: Database.Database | undefined;
    try {
      db = new Database(path);
      SqliteEventStore.initialise(db, path);
      const synchronous = options.synchronous ?? 'FULL';
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${synchronous}`);
      db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
      return new SqliteEventStore(db, path, {
        synchronous,
        busyTimeoutMs: options.busyTimeoutMs ?? 5000,
        livePollIntervalMs: options.livePollIntervalMs ?? 200,
        readPageSize: options.readPageSize ?? 1000,
        archive: options.archive ?? SegmentArchive.nextTo(path),
        clock: options.clock ?? systemClock,
      });
    } catch (error) {
      db?.close();
      throw SqliteEventStore.translate(error, path);
    }
  }

  private static initialise(db: Database.Database, path: string): void {
    const applicationIdOf = () => db.pragma('application_id', { simple: true }) as number;
    const empty = () =>
      applicationIdOf() === 0 && (db.prepare('SELECT count(*) FROM sqlite_master').pluck().get() as number) === 0;
    if (empty()) {
      // Asked again under the write lock: another process may have created the store since.
      const created = db
        .transaction(() => {
          if (!empty()) return false;
          db.exec(SCHEMA);
          db.pragma(`application_id = ${APPLICATION_ID}`);
          db.pragma(`user_version = ${SCHEMA_VERSION}`);
          return true;
        })
        .immediate();
      if (created) return;
    }
    const applicationId = applicationIdOf();
    if (applicationId !== APPLICATION_ID) {
      throw new ForeignStore(path, 'is a SQLite database of another application, not a Failsafe event store');
    }
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new ForeignStore(
        path,
        `was written by a newer Failsafe (store schema ${version}; this one reads up to ${SCHEMA_VERSION})`,
      );
    }
  }

  private static translate(error: unknown, path: string): unknown {
    if (error instanceof EventStoreError) return error;
    const code = sqliteCode(error);
    if (code?.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
      return new StoreCorrupt(path, (error as Error).message);
    }
    if (code?.startsWith('SQLITE_BUSY')) return new StoreBusy(path, code);
    return error;
  }

  /** Where this store's retention puts the events it trims. */
  get archive(): EventArchive {
    return this.options.archive;
  }

  /** The durability settings actually in force, read back from SQLite. */
  durability(): { journalMode: string; synchronous: SqliteSynchronous | 'OFF' | 'NORMAL' } {
    const journalMode = this.db.pragma('journal_mode', { simple: true }) as string;
    const level = this.db.pragma('synchronous', { simple: true }) as number;
    const synchronous = (['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const)[level] ?? 'OFF';
    return { journalMode, synchronous };
  }

  /** A write, tried again later when another process holds the lock: a write that failed changed nothing. */
  private async writing<T>(work: () => T, attempt = 0): Promise<T> {
    try {
      return this.guard(work);
    } catch (error) {
      const delay = BUSY_RETRY_DELAYS_MS[attempt];
      if (!(error instanceof StoreBusy) || delay === undefined) throw error;
      await sleep(delay);
      return this.writing(work, attempt + 1);
    }
  }

  private guard<T>(work: () => T): T {
    if (this.closed) throw new StoreClosed();
    try {
      return work();
    } catch (error) {
      throw SqliteEventStore.translate(error, this.path);
    }
  }

  async append(
    stream: string,
    events: readonly NewEvent[],
    expectedRevision: ExpectedRevision,
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    const prepared = prepareAppend(stream, events, expectedRevision);
    // IMMEDIATE takes the write lock up front, so two processes never deadlock on lock upgrade.
    // The clock is read on each try: a later try records the time it writes at.
    const result = await this.writing(() => {
      const now = this.options.clock.now();
      const stamp = recordedAtOf(options, now).getTime();
      return this.appendTransaction.immediate(stream, prepared, expectedRevision, stamp, now.getTime());
    });
    this.wakeSubscribers();
    return result;
  }

  private appendInTransaction(
    stream: string,
    events: SerializedEvent[],
    expected: ExpectedRevision,
    stamp: number,
    now: number,
  ): AppendResult {
    const s = this.statements;
    const retried = this.alreadyAppended(stream, events);
    if (retried) return retried;

    let row = s.stream.get(stream) as StreamRow | undefined;
    if (row?.deleted) throw new StreamDeleted(stream);
    const current = row ? row.last_revision : -1;
    assertRevisionHolds(stream, expected, BigInt(current));
    if (!row) {
      const id = Number(s.createStream.run(stream).lastInsertRowid);
      row = { id, last_revision: -1, deleted: 0, max_age_ms: null, max_count: null };
    }

    let position = 0;
    let revision = current;
    for (const event of events) {
      revision += 1;
      try {
        position = Number(
          s.insert.run(event.id, row.id, revision, event.type, event.data, event.metadata, stamp).lastInsertRowid,
        );
      } catch (error) {
        if (sqliteCode(error) === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new DuplicateEventId(event.id, 'is already stored as part of another append');
        }
        throw error;
      }
    }
    s.setRevision.run(revision, row.id);
    this.applyRetention(stream, { ...row, last_revision: revision }, now);
    return { nextExpectedRevision: BigInt(revision), position: BigInt(position) };
  }

  /** A retried append whose events are all stored already returns the original result. */
  private alreadyAppended(stream: string, events: SerializedEvent[]): AppendResult | undefined {
    type Found = { position: number; revision: number; stream: string };
    const first = this.statements.findEvent.get(events[0]!.id) as Found | undefined;
    if (!first) return undefined;
    let last = first;
    events.forEach((event, index) => {
      const found = this.statements.findEvent.get(event.id) as Found | undefined;
      if (!found || found.stream !== stream || found.revision !== first.revision + index) {
        throw new DuplicateEventId(
          event.id,
          found
            ? `is already stored in stream "${found.stream}" at revision ${found.revision}`
            : 'was part of an earlier append whose other events differ',
        );
      }
      last = found;
    });
    return { nextExpectedRevision: BigInt(last.revision), position: BigInt(last.position) };
  }

  /**
   * Trims a stream once a tenth of its limit is due, so that each archive segment holds a batch
   * (reads hide what is due at once). Archive first, durably, then delete in this transaction: a
   * crash in between leaves events in both, and readers keep one copy per position.
   */
  private applyRetention(stream: string, row: StreamRow, now: number): void {
    if (row.max_count === null && row.max_age_ms === null) return;
    const oldest = this.statements.oldest.get(row.id) as { revision: number; recorded_at: number } | undefined;
    if (!oldest) return;
    const keepFrom = firstKeptRevision(row);
    const cutoff = retentionCutoff(row, now);
    const limits = { maxCount: row.max_count ?? undefined, maxAgeMs: row.max_age_ms ?? undefined };
    if (!trimDue(limits, keepFrom - oldest.revision, oldest.recorded_at, cutoff)) return;
    const expired = this.statements.expired.all(stream, row.id, keepFrom, cutoff) as EventRow[];
    this.options.archive.write(expired.map((r) => this.decode(r)));
    this.statements.trim.run(row.id, keepFrom, cutoff);
  }

  private wakeSubscribers(): void {
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  private decode(row: EventRow): RecordedEvent {
    return {
      position: BigInt(row[0]),
      id: row[1],
      stream: row[2],
      revision: BigInt(row[3]),
      type: row[4],
      data: JSON.parse(row[5]) as JsonObject,
      metadata: JSON.parse(row[6]) as JsonObject,
      recordedAt: new Date(row[7]),
    };
  }

  /**
   * A page of `readAll` forwards with data and metadata left as JSON text: for a reader that decodes
   * only some events (a split verification skips other partitions' events unparsed). With `types`,
   * only events of those types, picked by SQLite: a pass for a few rare types skips the others' rows.
   */
  readUndecodedPage(fromPosition: bigint, maxCount: number, types?: readonly string[]): UndecodedEvent[] {
    const from = Number(fromPosition);
    const rows = types
      ? this.guard(() => this.statements.readAllOfTypes.all(from, JSON.stringify(types), maxCount) as EventRow[])
      : this.readAllPage(from, maxCount);
    return rows.map((r) => ({
      position: BigInt(r[0]),
      id: r[1],
      stream: r[2],
      revision: BigInt(r[3]),
      type: r[4],
      data: r[5],
      metadata: r[6],
      recordedAt: new Date(r[7]),
    }));
  }

  /** The events from `fromPosition` on, counted up to `upTo` (a walk of the table, no row read: 50 ms for 250,000). */
  countEvents(fromPosition: bigint, upTo: number): number {
    return this.guard(() => this.statements.countFrom.get(Number(fromPosition), upTo) as number);
  }

  async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    assertStreamName(stream);
    const row = this.guard(() => this.statements.stream.get(stream) as StreamRow | undefined);
    if (!row) return;
    if (row.deleted) throw new StreamDeleted(stream);
    const backwards = options.direction === 'backwards';
    const lowest = firstKeptRevision(row);
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    let next =
      options.fromRevision === undefined ? (backwards ? row.last_revision : lowest) : Number(options.fromRevision);
    if (!backwards) next = Math.max(next, lowest);
    while (remaining > 0) {
      const limit = Math.min(remaining, this.options.readPageSize);
      const cutoff = retentionCutoff(row, this.options.clock.now().getTime());
      const rows = this.guard(
        () =>
          (backwards
            ? this.statements.readStreamBackwards.all(stream, row.id, next, lowest, cutoff, limit)
            : this.statements.readStreamForwards.all(stream, row.id, next, cutoff, limit)) as EventRow[],
      );
      for (const r of rows) yield this.decode(r);
      if (rows.length < limit) return;
      remaining -= rows.length;
      next = rows[rows.length - 1]![3] + (backwards ? -1 : 1);
    }
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    const backwards = options.direction === 'backwards';
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    let next =
      options.fromPosition === undefined ? (backwards ? Number.MAX_SAFE_INTEGER : 0) : Number(options.fromPosition);
    while (remaining > 0) {
      const rows = this.readAllPage(next, Math.min(remaining, this.options.readPageSize), backwards);
      for (const r of rows) yield this.decode(r);
      if (rows.length === 0) return;
      remaining -= rows.length;
      next = rows[rows.length - 1]![0] + (backwards ? -1 : 1);
    }
  }

  private readAllPage(from: number, limit: number, backwards = false): EventRow[] {
    return this.guard(
      () =>
        (backwards ? this.statements.readAllBackwards : this.statements.readAllForwards).all(from, limit) as EventRow[],
    );
  }

  async readEvent(id: string): Promise<RecordedEvent | undefined> {
    const row = this.guard(() => this.statements.readEvent.get(String(id).toLowerCase()) as EventRow | undefined);
    return row && this.decode(row);
  }

  subscribe(options: SubscribeOptions = {}): Subscription {
    const subscription = pollingSubscription({
      after: options.after === 'end' ? BigInt(this.head()) : (options.after ?? 0n),
      readPage: (after) => this.subscriptionPages.after(after),
      waitForAppend: (signal) => this.waitForAppend(signal),
      onClose: () => this.subscriptions.delete(subscription),
    });
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** Resolves on the next append by this process, or after the poll interval for other processes' appends. */
  private waitForAppend(signal: AbortSignal): Promise<void> {
    return new Promise((resolveWait) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolveWait();
      };
      const timer = setTimeout(done, this.options.livePollIntervalMs);
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private head(): number {
    return this.guard(() => (this.statements.head.get() as number | undefined) ?? 0);
  }

  async headPosition(): Promise<bigint> {
    return BigInt(this.head());
  }

  async setStreamMetadata(stream: string, metadata: StreamMetadata): Promise<void> {
    assertStreamName(stream);
    assertStreamMetadata(metadata);
    await this.writing(() =>
      this.db
        .transaction(() => {
          const s = this.statements;
          let row = s.stream.get(stream) as StreamRow | undefined;
          if (row?.deleted) throw new StreamDeleted(stream);
          if (!row) {
            const id = Number(s.createStream.run(stream).lastInsertRowid);
            row = { id, last_revision: -1, deleted: 0, max_age_ms: null, max_count: null };
          }
          const updated = {
            ...row,
            max_age_ms: metadata.maxAgeSeconds === undefined ? null : metadata.maxAgeSeconds * 1000,
            max_count: metadata.maxCount ?? null,
          };
          s.setRetention.run(updated.max_age_ms, updated.max_count, row.id);
          this.applyRetention(stream, updated, this.options.clock.now().getTime());
        })
        .immediate(),
    );
  }

  async getStreamMetadata(stream: string): Promise<StreamMetadata> {
    assertStreamName(stream);
    const row = this.guard(() => this.statements.stream.get(stream) as StreamRow | undefined);
    if (row?.deleted) throw new StreamDeleted(stream);
    return {
      ...(row?.max_age_ms != null && { maxAgeSeconds: row.max_age_ms / 1000 }),
      ...(row?.max_count != null && { maxCount: row.max_count }),
    };
  }

  async deleteStream(stream: string, expectedRevision: ExpectedRevision): Promise<void> {
    assertStreamName(stream);
    assertExpectedRevision(expectedRevision);
    await this.writing(() =>
      this.db
        .transaction(() => {
          const row = this.statements.stream.get(stream) as StreamRow | undefined;
          if (row?.deleted) throw new StreamDeleted(stream);
          assertRevisionHolds(stream, expectedRevision, BigInt(row?.last_revision ?? -1));
          const id = row?.id ?? Number(this.statements.createStream.run(stream).lastInsertRowid);
          this.statements.setDeleted.run(id);
        })
        .immediate(),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    this.closed = true;
    this.wakeSubscribers();
    this.db.close();
  }
}
