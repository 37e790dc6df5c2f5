/**
 * The PostgreSQL event store, on postgres.js (`postgres` 3.4.9) rather than `pg` (node-postgres 8.23):
 * Failsafe's HA setup names a primary and its standby in one libpq URL
 * (`postgresql://h1:p1,h2:p2/db?target_session_attrs=read-write`) and must land on whichever is the
 * primary after a promotion. postgres.js parses multi-host URLs and checks `target_session_attrs` on
 * every (re)connect; `pg` 8.23's pure-JS client takes one host only (multi-host support is an open
 * pull request, brianc/node-postgres#3643). postgres.js also pipelines and prepares statements by
 * default, and has no dependencies.
 *
 * Its `read-write` check reads only `default_transaction_read_only`, which a hot standby reports as
 * `off` (porsager/postgres#815), so a standby listed first would be taken for read-write: the adapter
 * asks postgres.js for `primary` (not in hot standby) instead, which is what failover needs.
 *
 * $all without gaps, and without skipping an event that commits late: positions come from a one-row
 * counter (`failsafe_head`) that an append updates as its last statement before COMMIT. The row lock
 * is held until the commit is visible, so the next append takes its positions only after this one's
 * are readable: the committed positions are always a prefix of those handed out, and a reader that
 * reads "after my checkpoint" can never pass a position still to be committed. The price is that
 * appends commit one after another (each waits for the previous commit's flush); a batch of events
 * shares one commit. Watermarks on transaction ids would let commits overlap, at the cost of readers
 * holding back behind the oldest open transaction, and are harder to get right.
 *
 * Live subscriptions: the append's transaction NOTIFYs `failsafe_events`; one dedicated connection
 * per store LISTENs and wakes the subscriptions, which then read from their checkpoint (a missed or
 * duplicate notification costs one read, never an event). When that connection drops it connects
 * again and wakes everyone once it listens; a slow fallback poll is the last resort.
 *
 * Durability: the store's connections set `synchronous_commit=on`, whatever the server's default:
 * an acknowledged append is flushed (and, with a synchronous standby, replicated).
 */
import postgres from 'postgres';
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
  ReplicationStalled,
  StoreClosed,
  StoreUnavailable,
  StreamDeleted,
} from './errors.js';
import type { ArchiveCursor, ArchiveReader } from './event-archive.js';
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
import { SharedPages } from './shared-pages.js';
import { trimDue } from './retention.js';
import { describeStore } from './store-url.js';
import { systemClock, type Clock } from '../runtime/clock.js';

/** int8 (positions, revisions) as bigint, not as a string. */
const TYPES = { bigint: postgres.BigInt };
type Sql = postgres.Sql<{ bigint: bigint }>;
/** A connection reserved for one transaction (see `transaction`). */
type Tx = postgres.ReservedSql<{ bigint: bigint }>;
type ConnectOptions = Omit<postgres.Options<typeof TYPES>, 'types'>;

const CHANNEL = 'failsafe_events';
/** Taken while migrating, so that two processes starting on a new database do not race. */
const MIGRATION_LOCK = 0x46534146;
/** The WARNING a COMMIT gets when its wait for a synchronous standby is cancelled: committed locally only. */
const SYNC_WAIT_CANCELLED = /^canceling wait for synchronous replication/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Schema changes in order; the store's version is how many it has applied. Append, never edit. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE failsafe_streams (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    last_revision bigint NOT NULL DEFAULT -1,
    deleted boolean NOT NULL DEFAULT false,
    max_age_ms bigint,
    max_count bigint
  );
  -- The one row whose lock orders appends in $all (see the header of postgres-event-store.ts).
  CREATE TABLE failsafe_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    position bigint NOT NULL
  );
  INSERT INTO failsafe_head (position) VALUES (0);
  CREATE TABLE failsafe_events (
    position bigint PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    stream_id bigint NOT NULL REFERENCES failsafe_streams (id),
    revision bigint NOT NULL,
    type text NOT NULL,
    data json NOT NULL,
    metadata json NOT NULL,
    recorded_at timestamptz NOT NULL,
    UNIQUE (stream_id, revision)
  );
  -- What retention trimmed, written in the trim's transaction: the history stays whole for audits.
  CREATE TABLE failsafe_archived_events (
    position bigint PRIMARY KEY,
    id uuid NOT NULL,
    stream text NOT NULL,
    revision bigint NOT NULL,
    type text NOT NULL,
    data json NOT NULL,
    metadata json NOT NULL,
    recorded_at timestamptz NOT NULL
  );
  CREATE INDEX failsafe_archived_events_id ON failsafe_archived_events (id);
  `,
];

export interface PostgresEventStoreOptions {
  /** A libpq URL: `postgresql://user[:password]@host[:port][,host[:port]…]/db[?target_session_attrs=…]`. */
  readonly url: string;
  /** Connections in the pool (default 10), besides the one that listens for appends. */
  readonly maxConnections?: number;
  /** Seconds to wait for a connection before StoreUnavailable (default 10). */
  readonly connectTimeoutSeconds?: number;
  /** How often a live subscription reads anyway, should a notification be lost (default 5 s). */
  readonly fallbackPollIntervalMs?: number;
  /** Rows fetched per query while reading; bounds memory however long the history. */
  readonly readPageSize?: number;
  /** Stamps appends and dates retention (default the system clock). */
  readonly clock?: Clock;
  /**
   * How long a COMMIT may wait for a synchronous standby (default 5,000 ms) before the write fails with
   * ReplicationStalled: a primary whose synchronous standby is gone would otherwise hang every append.
   */
  readonly replicationTimeoutMs?: number;
}

interface StreamRow {
  id: bigint;
  last_revision: bigint;
  deleted: boolean;
  max_age_ms: bigint | null;
  max_count: bigint | null;
}

interface EventRow {
  position: bigint;
  id: string;
  stream: string;
  revision: bigint;
  type: string;
  data: JsonObject;
  metadata: JsonObject;
  recorded_at: Date;
}

/** An event row with its data and metadata as the JSON text stored. */
type UndecodedRow = Omit<EventRow, 'data' | 'metadata'> & { data: string; metadata: string };

const decode = (row: EventRow): RecordedEvent => ({
  id: row.id,
  stream: row.stream,
  revision: row.revision,
  position: row.position,
  type: row.type,
  data: row.data,
  metadata: row.metadata,
  recordedAt: row.recorded_at,
});

function firstKeptRevision(row: Pick<StreamRow, 'max_count' | 'last_revision'>): bigint {
  if (row.max_count === null) return 0n;
  const first = row.last_revision - row.max_count + 1n;
  return first > 0n ? first : 0n;
}

/** Events recorded before it are expired; null: the stream has no maxAge. */
const retentionCutoff = (row: Pick<StreamRow, 'max_age_ms'>, now: Date): Date | null =>
  row.max_age_ms === null ? null : new Date(now.getTime() - Number(row.max_age_ms));

const MAX_POSITION = 2n ** 63n - 1n;

const pgCode = (error: unknown): string | undefined =>
  error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;

/** Errors that mean "no server to talk to", as opposed to a refused statement. */
const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '08000', // connection_exception
  '08003', // connection_does_not_exist
  '08006', // connection_failure
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, in recovery)
  '28000', // invalid_authorization_specification
  '28P01', // invalid_password
  '3D000', // invalid_catalog_name: the database does not exist
]);

function connectionProblem(error: unknown): string | undefined {
  const code = pgCode(error);
  if (!code || !CONNECTION_ERRORS.has(code)) return undefined;
  const message = (error as Error).message;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'CONNECT_TIMEOUT') return 'connection timed out';
  return message;
}

/** The archive of a PostgreSQL store: its `failsafe_archived_events` table. */
class PostgresArchive implements ArchiveReader {
  constructor(
    private readonly sql: Sql,
    private readonly pageSize: number,
  ) {}

  cursor(fromPosition: bigint): ArchiveCursor {
    let last = fromPosition - 1n;
    const { sql, pageSize } = this;
    return {
      async *upTo(bound: bigint) {
        const upTo = bound < MAX_POSITION ? bound : MAX_POSITION;
        for (;;) {
          const rows = await sql<EventRow[]>`
            SELECT position, id::text, stream, revision, type, data, metadata, recorded_at
            FROM failsafe_archived_events WHERE position > ${last} AND position <= ${upTo}
            ORDER BY position LIMIT ${pageSize}`;
          for (const row of rows) {
            last = row.position;
            yield decode(row);
          }
          if (rows.length < pageSize) return;
        }
      },
    };
  }

  async readEvents(ids: readonly string[]): Promise<ReadonlyMap<string, RecordedEvent>> {
    const wanted = ids.map((id) => id.toLowerCase()).filter((id) => UUID.test(id));
    const rows = await this.sql<EventRow[]>`
      SELECT position, id::text, stream, revision, type, data, metadata, recorded_at
      FROM failsafe_archived_events WHERE id = ANY(${wanted}::uuid[]) ORDER BY position`;
    const found = new Map<string, RecordedEvent>();
    for (const row of rows) if (!found.has(row.id)) found.set(row.id, decode(row));
    return found;
  }
}

export class PostgresEventStore implements EventStore {
  private readonly waiters = new Set<() => void>();
  private readonly subscriptions = new Set<Subscription>();
  private readonly startingAtEnd = new Set<Promise<unknown>>();
  private listener: Sql | undefined;
  private listenRetryMs = 100;
  private relisten: NodeJS.Timeout | undefined;
  private closed = false;
  /** Where this store's retention puts the events it trims. */
  readonly archive: ArchiveReader;
  private readonly subscriptionPages: SharedPages;

  private constructor(
    private readonly sql: Sql,
    /** The URL with any password masked. */
    readonly location: string,
    private readonly options: Required<Omit<PostgresEventStoreOptions, 'maxConnections'>>,
    /** How many COMMITs had their wait for a synchronous standby cancelled (the server's WARNING). */
    private readonly syncWaits: { cancelled: number },
  ) {
    this.archive = new PostgresArchive(sql, options.readPageSize);
    this.subscriptionPages = new SharedPages(
      {
        head: async () => Number(await this.headPosition()),
        read: (from, limit) => this.readAllPage(BigInt(from), limit),
      },
      options.readPageSize,
    );
  }

  /** Connects, creates or migrates the schema, and refuses a store from a newer Failsafe. */
  static async open(options: PostgresEventStoreOptions): Promise<PostgresEventStore> {
    const location = describeStore({ kind: 'postgres', url: options.url });
    const settings = {
      connectTimeoutSeconds: options.connectTimeoutSeconds ?? 10,
      fallbackPollIntervalMs: options.fallbackPollIntervalMs ?? 5_000,
      readPageSize: options.readPageSize ?? 1000,
      clock: options.clock ?? systemClock,
      replicationTimeoutMs: options.replicationTimeoutMs ?? 5_000,
      url: options.url,
    };
    const syncWaits = { cancelled: 0 };
    const sql = PostgresEventStore.connect(options.url, {
      max: options.maxConnections ?? 10,
      connect_timeout: settings.connectTimeoutSeconds,
      onnotice: (notice) => {
        if (SYNC_WAIT_CANCELLED.test(notice.message ?? '')) syncWaits.cancelled += 1;
      },
    });
    try {
      await PostgresEventStore.migrate(sql, location);
    } catch (error) {
      await sql.end({ timeout: 0 });
      throw PostgresEventStore.translate(error, location);
    }
    return new PostgresEventStore(sql, location, settings, syncWaits);
  }

  /** A connection pool as the store's own (the primary, flushed commits); backups use it for their snapshot. */
  static connect(url: string, options: ConnectOptions): Sql {
    const readWrite = /[?&]target_session_attrs=read-write(&|$)/.test(url);
    return postgres(url, {
      types: TYPES,
      onnotice: () => {},
      // Stay on the server a promotion left as primary; failover is the URL's other hosts.
      ...(readWrite && { target_session_attrs: 'primary' as const }),
      // Acknowledge only flushed (and, with a synchronous standby, replicated) commits, whatever the
      // server's, database's or role's default; a URL's own `synchronous_commit=` still wins.
      connection: { application_name: 'failsafe', synchronous_commit: 'on' },
      ...options,
    });
  }

  private static async migrate(sql: Sql, location: string): Promise<void> {
    await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
      const [schema] = await tx<{ exists: boolean }[]>`SELECT to_regclass('failsafe_schema') IS NOT NULL AS exists`;
      let version = 0;
      if (schema!.exists) {
        const [row] = await tx<{ version: number }[]>`SELECT version FROM failsafe_schema`;
        version = row?.version ?? 0;
      } else {
        const [others] = await tx<{ count: bigint }[]>`
          SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'failsafe\\_%'`;
        if (others!.count > 0n) {
          throw new ForeignStore(
            location,
            'has failsafe_ tables but no failsafe_schema, so it is not a Failsafe store',
          );
        }
        await tx`CREATE TABLE failsafe_schema (version integer NOT NULL)`;
        await tx`INSERT INTO failsafe_schema (version) VALUES (0)`;
      }
      if (version > MIGRATIONS.length) {
        throw new ForeignStore(
          location,
          `was written by a newer Failsafe (store schema ${version}; this one reads up to ${MIGRATIONS.length})`,
        );
      }
      for (const [index, migration] of MIGRATIONS.entries()) {
        if (index < version) continue;
        await tx.unsafe(migration);
        await tx`UPDATE failsafe_schema SET version = ${index + 1}`;
      }
    });
  }

  private static translate(error: unknown, location: string): unknown {
    if (error instanceof EventStoreError) return error;
    const problem = connectionProblem(error);
    if (!problem) return error;
    // postgres.js drops each server that fails target_session_attrs: with none left, this is what it throws.
    const noPrimary = pgCode(error) === 'CONNECTION_DESTROYED' && /[?&]target_session_attrs=/.test(location);
    return new StoreUnavailable(
      location,
      noPrimary ? `${problem}: none of the listed servers may be a primary (target_session_attrs)` : problem,
    );
  }

  private async guard<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreClosed();
    try {
      return await work();
    } catch (error) {
      throw PostgresEventStore.translate(error, this.location);
    }
  }

  async append(
    stream: string,
    events: readonly NewEvent[],
    expectedRevision: ExpectedRevision,
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    const prepared = prepareAppend(stream, events, expectedRevision);
    const now = this.options.clock.now();
    const stamp = recordedAtOf(options, now);
    if (this.startingAtEnd.size > 0) await Promise.all(this.startingAtEnd);
    return this.guard(() =>
      this.transaction((tx) => this.appendInTransaction(tx, stream, prepared, expectedRevision, stamp, now)),
    );
  }

  /**
   * BEGIN … COMMIT on a reserved connection, not postgres.js's `begin`: when the server goes away
   * mid-transaction, `begin` sends ROLLBACK down the dead connection and postgres.js 3.4.9 then throws
   * an uncaught TypeError from a timer (porsager/postgres#1208), ending the process at every failover.
   * Here a connection that failed gets no further statement and is not handed back to the pool.
   * A COMMIT waiting longer than `replicationTimeoutMs` for a synchronous standby is cancelled (no
   * server timeout covers that wait); the server then commits locally with only a warning, so that
   * warning fails the write (ReplicationStalled).
   */
  private async transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const tx = await this.sql.reserve();
    let reusable = true;
    let result: T;
    let cancelled = false;
    const warningsBefore = this.syncWaits.cancelled;
    try {
      const [, [backend]] = await Promise.all([tx`BEGIN`, tx<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`]);
      result = await work(tx);
      const bound = setTimeout(() => {
        cancelled = true;
        void this.cancelBackend(backend!.pid);
      }, this.options.replicationTimeoutMs);
      await tx`COMMIT`.finally(() => clearTimeout(bound));
    } catch (error) {
      reusable =
        !connectionProblem(error) &&
        (await tx`ROLLBACK`.then(
          () => true,
          () => false,
        ));
      throw error;
    } finally {
      if (reusable) tx.release();
    }
    if (cancelled && this.syncWaits.cancelled > warningsBefore)
      throw new ReplicationStalled(this.location, this.options.replicationTimeoutMs);
    return result;
  }

  /** Cancels a backend's statement, from a connection of its own: appends queued behind it may hold the pool. */
  private async cancelBackend(pid: number): Promise<void> {
    const once = PostgresEventStore.connect(this.options.url, {
      max: 1,
      connect_timeout: this.options.connectTimeoutSeconds,
      fetch_types: false,
    });
    await once`SELECT pg_cancel_backend(${pid})`.catch(() => undefined);
    await once.end({ timeout: 0 });
  }

  private async appendInTransaction(
    tx: Tx,
    stream: string,
    events: SerializedEvent[],
    expected: ExpectedRevision,
    stamp: Date,
    now: Date,
  ): Promise<AppendResult> {
    const ids = events.map((e) => e.id);
    // The stream's row lock orders appends to one stream (and makes racing no_stream appends wait).
    // The retry check is pipelined behind it (sent after it: `execute()` sends now): it runs once
    // the lock is held, so it sees a racing original that committed meanwhile.
    const locking = this.lockStream(tx, stream);
    const [retried, [row]] = await Promise.all([this.alreadyAppended(tx, stream, ids), locking]);
    if (retried) return retried;
    if (row!.deleted) throw new StreamDeleted(stream);
    assertRevisionHolds(stream, expected, row!.last_revision);
    const last = row!.last_revision + BigInt(events.length);
    let position: bigint;
    try {
      // The head's lock is the last one taken and is held until COMMIT: see the header.
      const [written] = await tx<{ position: bigint }[]>`
        WITH head AS (
          UPDATE failsafe_head SET position = position + ${events.length} RETURNING position
        ), inserted AS (
          INSERT INTO failsafe_events (position, id, stream_id, revision, type, data, metadata, recorded_at)
          SELECT head.position - ${events.length} + e.ord, e.id, ${row!.id}, ${row!.last_revision} + e.ord,
                 e.type, e.data::json, e.metadata::json, ${stamp}
          FROM head, unnest(${ids}::uuid[], ${events.map((e) => e.type)}::text[],
                            ${events.map((e) => e.data)}::text[], ${events.map((e) => e.metadata)}::text[])
                     WITH ORDINALITY AS e(id, type, data, metadata, ord)
          RETURNING position
        ), revised AS (
          UPDATE failsafe_streams SET last_revision = ${last} WHERE id = ${row!.id}
        )
        SELECT max(position) AS position, pg_notify(${CHANNEL}, max(position)::text) FROM inserted`;
      position = written!.position;
    } catch (error) {
      if (pgCode(error) === '23505') {
        const id = /\(id\)=\(([^)]+)\)/.exec((error as postgres.PostgresError).detail ?? '')?.[1] ?? ids[0]!;
        throw new DuplicateEventId(id, 'is already stored as part of another append');
      }
      throw error;
    }
    await this.applyRetention(tx, stream, { ...row!, last_revision: last }, now);
    return { nextExpectedRevision: last, position };
  }

  /** A retried append whose events are all stored already returns the original result. */
  private async alreadyAppended(tx: Tx, stream: string, ids: string[]): Promise<AppendResult | undefined> {
    const rows = await tx<{ id: string; position: bigint; revision: bigint; stream: string }[]>`
      SELECT e.id::text, e.position, e.revision, s.name AS stream
      FROM failsafe_events e JOIN failsafe_streams s ON s.id = e.stream_id WHERE e.id = ANY(${ids}::uuid[])`;
    if (rows.length === 0) return undefined;
    const byId = new Map(rows.map((r) => [r.id, r]));
    const first = byId.get(ids[0]!);
    ids.forEach((id, index) => {
      const found = byId.get(id);
      if (!first || !found || found.stream !== stream || found.revision !== first.revision + BigInt(index)) {
        throw new DuplicateEventId(
          id,
          found
            ? `is already stored in stream "${found.stream}" at revision ${found.revision}`
            : 'was part of an earlier append whose other events differ',
        );
      }
    });
    const last = byId.get(ids[ids.length - 1]!)!;
    return { nextExpectedRevision: last.revision, position: last.position };
  }

  /**
   * Trims a stream once a tenth of its limit is due (reads hide what is due at once). The trimmed
   * rows move to `failsafe_archived_events` in this same transaction: never lost, never in both.
   */
  private async applyRetention(tx: Tx, stream: string, row: StreamRow, now: Date): Promise<void> {
    if (row.max_count === null && row.max_age_ms === null) return;
    const [oldest] = await tx<{ revision: bigint; recorded_at: Date }[]>`
      SELECT revision, recorded_at FROM failsafe_events WHERE stream_id = ${row.id} ORDER BY revision LIMIT 1`;
    if (!oldest) return;
    const keepFrom = firstKeptRevision(row);
    const cutoff = retentionCutoff(row, now);
    const limits = {
      maxCount: row.max_count === null ? undefined : Number(row.max_count),
      maxAgeMs: row.max_age_ms === null ? undefined : Number(row.max_age_ms),
    };
    const cutoffMs = cutoff?.getTime() ?? Number.NEGATIVE_INFINITY;
    if (!trimDue(limits, Number(keepFrom - oldest.revision), oldest.recorded_at.getTime(), cutoffMs)) return;
    await tx`
      WITH trimmed AS (
        DELETE FROM failsafe_events WHERE stream_id = ${row.id} AND (revision < ${keepFrom} OR recorded_at < ${cutoff})
        RETURNING position, id, revision, type, data, metadata, recorded_at
      )
      INSERT INTO failsafe_archived_events (position, id, stream, revision, type, data, metadata, recorded_at)
      SELECT position, id, ${stream}, revision, type, data, metadata, recorded_at FROM trimmed`;
  }

  async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    assertStreamName(stream);
    const [row] = await this.guard(
      () => this.sql<StreamRow[]>`
        SELECT id, last_revision, deleted, max_age_ms, max_count FROM failsafe_streams WHERE name = ${stream}`,
    );
    if (!row) return;
    if (row.deleted) throw new StreamDeleted(stream);
    const backwards = options.direction === 'backwards';
    const lowest = firstKeptRevision(row);
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    let next = options.fromRevision ?? (backwards ? row.last_revision : lowest);
    if (!backwards && next < lowest) next = lowest;
    while (remaining > 0) {
      const limit = Math.min(remaining, this.options.readPageSize);
      const cutoff = retentionCutoff(row, this.options.clock.now());
      const rows = await this.guard(() =>
        backwards
          ? this.sql<EventRow[]>`
              SELECT position, id::text, ${stream} AS stream, revision, type, data, metadata, recorded_at
              FROM failsafe_events WHERE stream_id = ${row.id} AND revision <= ${next} AND revision >= ${lowest}
                AND (${cutoff}::timestamptz IS NULL OR recorded_at >= ${cutoff})
              ORDER BY revision DESC LIMIT ${limit}`
          : this.sql<EventRow[]>`
              SELECT position, id::text, ${stream} AS stream, revision, type, data, metadata, recorded_at
              FROM failsafe_events WHERE stream_id = ${row.id} AND revision >= ${next}
                AND (${cutoff}::timestamptz IS NULL OR recorded_at >= ${cutoff})
              ORDER BY revision LIMIT ${limit}`,
      );
      for (const r of rows) yield decode(r);
      if (rows.length < limit) return;
      remaining -= rows.length;
      next = rows[rows.length - 1]!.revision + (backwards ? -1n : 1n);
    }
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    const backwards = options.direction === 'backwards';
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    let next = options.fromPosition ?? (backwards ? MAX_POSITION : 0n);
    while (remaining > 0) {
      const rows = await this.readAllPage(next, Math.min(remaining, this.options.readPageSize), backwards);
      for (const r of rows) yield r;
      if (rows.length === 0) return;
      remaining -= rows.length;
      next = rows[rows.length - 1]!.position + (backwards ? -1n : 1n);
    }
  }

  private async readAllPage(from: bigint, limit: number, backwards = false): Promise<RecordedEvent[]> {
    const rows = await this.guard(() =>
      backwards
        ? this.sql<EventRow[]>`
            SELECT e.position, e.id::text, s.name AS stream, e.revision, e.type, e.data, e.metadata, e.recorded_at
            FROM failsafe_events e JOIN failsafe_streams s ON s.id = e.stream_id
            WHERE e.position <= ${from} ORDER BY e.position DESC LIMIT ${limit}`
        : this.sql<EventRow[]>`
            SELECT e.position, e.id::text, s.name AS stream, e.revision, e.type, e.data, e.metadata, e.recorded_at
            FROM failsafe_events e JOIN failsafe_streams s ON s.id = e.stream_id
            WHERE e.position >= ${from} ORDER BY e.position LIMIT ${limit}`,
    );
    return rows.map(decode);
  }

  /**
   * A page of `readAll` forwards with data and metadata left as JSON text (`json` columns keep it as
   * written): for a reader that decodes only some events. With `types`, only events of those types,
   * picked by PostgreSQL: a pass for a few rare types does not bring the others' rows over.
   */
  async readUndecodedPage(
    fromPosition: bigint,
    maxCount: number,
    types?: readonly string[],
  ): Promise<UndecodedEvent[]> {
    const ofTypes = types ? this.sql`AND e.type = ANY(${types as string[]})` : this.sql``;
    const rows = await this.guard(
      () => this.sql<UndecodedRow[]>`
        SELECT e.position, e.id::text, s.name AS stream, e.revision, e.type,
               e.data::text AS data, e.metadata::text AS metadata, e.recorded_at
        FROM failsafe_events e JOIN failsafe_streams s ON s.id = e.stream_id
        WHERE e.position >= ${fromPosition} ${ofTypes}
        ORDER BY e.position LIMIT ${maxCount}`,
    );
    return rows.map((r) => ({
      position: r.position,
      id: r.id,
      stream: r.stream,
      revision: r.revision,
      type: r.type,
      data: r.data,
      metadata: r.metadata,
      recordedAt: r.recorded_at,
    }));
  }

  /** The events from `fromPosition` on, counted up to `upTo`, without bringing their rows over. */
  async countEvents(fromPosition: bigint, upTo: number): Promise<number> {
    const [row] = await this.guard(
      () => this.sql<{ count: bigint }[]>`
        SELECT count(*) AS count
        FROM (SELECT 1 FROM failsafe_events WHERE position >= ${fromPosition} LIMIT ${upTo}) AS t`,
    );
    return Number(row!.count);
  }

  async readEvent(id: string): Promise<RecordedEvent | undefined> {
    const wanted = String(id).toLowerCase();
    if (!UUID.test(wanted)) return undefined;
    const [row] = await this.guard(
      () => this.sql<EventRow[]>`
        SELECT e.position, e.id::text, s.name AS stream, e.revision, e.type, e.data, e.metadata, e.recorded_at
        FROM failsafe_events e JOIN failsafe_streams s ON s.id = e.stream_id WHERE e.id = ${wanted}::uuid`,
    );
    return row && decode(row);
  }

  subscribe(options: SubscribeOptions = {}): Subscription {
    if (this.closed) throw new StoreClosed();
    const start = options.after === 'end' ? this.headPosition() : Promise.resolve(options.after ?? 0n);
    if (options.after === 'end') {
      // 'end' is the head now: this process's appends wait for it, so none made after subscribe() is missed.
      const settled: Promise<unknown> = start.then(
        () => this.startingAtEnd.delete(settled),
        () => this.startingAtEnd.delete(settled),
      );
      this.startingAtEnd.add(settled);
    }
    let began = false;
    const subscription = pollingSubscription({
      after: -1n,
      readPage: async (after) => {
        const from = began ? after : await start;
        began = true;
        try {
          return await this.subscriptionPages.after(from);
        } catch (error) {
          // An outage (failover, restart) is waited out, not fatal to the consumer: the wake after
          // re-LISTENing, or the next poll, reads again from the checkpoint.
          if (error instanceof StoreUnavailable) return [];
          throw error;
        }
      },
      waitForAppend: (signal) => this.waitForAppend(signal),
      onClose: () => this.subscriptions.delete(subscription),
    });
    this.subscriptions.add(subscription);
    this.listen();
    return subscription;
  }

  /**
   * Keeps one dedicated connection LISTENing while there are subscriptions. When it drops (server
   * restart, failover) it connects again, backing off, and wakes everyone once it listens again:
   * appends may have committed while nobody listened. The subscriptions' shared pages are forgotten
   * when it drops: the server it comes back to may be a promoted standby.
   */
  private listen(): void {
    if (this.listener || this.closed || this.subscriptions.size === 0) return;
    const listener = PostgresEventStore.connect(this.options.url, {
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      connect_timeout: this.options.connectTimeoutSeconds,
      fetch_types: false,
      connection: { application_name: 'failsafe-listener' },
      // postgres.js calls `onnotify` for every NOTIFY on this connection; its types leave it out.
      ...{ onnotify: () => this.wakeSubscribers() },
      onclose: () => dropped(),
    });
    const dropped = () => {
      if (this.listener !== listener) return;
      this.listener = undefined;
      this.subscriptionPages.forget();
      void listener.end({ timeout: 0 });
      const delay = this.listenRetryMs;
      this.listenRetryMs = Math.min(delay * 2, 5_000);
      this.relisten = setTimeout(() => this.listen(), delay);
    };
    this.listener = listener;
    listener`LISTEN ${listener(CHANNEL)}`.then(() => {
      this.listenRetryMs = 100;
      this.wakeSubscribers();
    }, dropped);
  }

  private wakeSubscribers(): void {
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  /** Resolves on a notification, or after the fallback interval should one be lost. */
  private waitForAppend(signal: AbortSignal): Promise<void> {
    return new Promise((resolveWait) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolveWait();
      };
      const timer = setTimeout(done, this.options.fallbackPollIntervalMs);
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** The durability in force on the store's connections, read back from the server. */
  async durability(): Promise<{ synchronousCommit: string }> {
    const [row] = await this.guard(() => this.sql<{ synchronous_commit: string }[]>`SHOW synchronous_commit`);
    return { synchronousCommit: row!.synchronous_commit };
  }

  async headPosition(): Promise<bigint> {
    const [row] = await this.guard(() => this.sql<{ position: bigint }[]>`SELECT position FROM failsafe_head`);
    return row!.position;
  }

  async setStreamMetadata(stream: string, metadata: StreamMetadata): Promise<void> {
    assertStreamName(stream);
    assertStreamMetadata(metadata);
    const maxAgeMs = metadata.maxAgeSeconds === undefined ? null : BigInt(metadata.maxAgeSeconds) * 1000n;
    const maxCount = metadata.maxCount === undefined ? null : BigInt(metadata.maxCount);
    await this.guard(() =>
      this.transaction(async (tx) => {
        const row = await this.liveStreamRow(tx, stream);
        await tx`UPDATE failsafe_streams SET max_age_ms = ${maxAgeMs}, max_count = ${maxCount} WHERE id = ${row.id}`;
        await this.applyRetention(
          tx,
          stream,
          { ...row, max_age_ms: maxAgeMs, max_count: maxCount },
          this.options.clock.now(),
        );
      }),
    );
  }

  /** Creates the stream's row when missing and locks it until the transaction ends; sent at once. */
  private lockStream(tx: Tx, stream: string) {
    return tx<StreamRow[]>`
      INSERT INTO failsafe_streams (name) VALUES (${stream})
      ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
      RETURNING id, last_revision, deleted, max_age_ms, max_count`.execute();
  }

  /** The stream's locked row; refused once the stream is deleted. */
  private async liveStreamRow(tx: Tx, stream: string): Promise<StreamRow> {
    const [row] = await this.lockStream(tx, stream);
    if (row!.deleted) throw new StreamDeleted(stream);
    return row!;
  }

  async getStreamMetadata(stream: string): Promise<StreamMetadata> {
    assertStreamName(stream);
    const [row] = await this.guard(
      () => this.sql<StreamRow[]>`
        SELECT id, last_revision, deleted, max_age_ms, max_count FROM failsafe_streams WHERE name = ${stream}`,
    );
    if (row?.deleted) throw new StreamDeleted(stream);
    return {
      ...(row?.max_age_ms != null && { maxAgeSeconds: Number(row.max_age_ms) / 1000 }),
      ...(row?.max_count != null && { maxCount: Number(row.max_count) }),
    };
  }

  async deleteStream(stream: string, expectedRevision: ExpectedRevision): Promise<void> {
    assertStreamName(stream);
    assertExpectedRevision(expectedRevision);
    await this.guard(() =>
      this.transaction(async (tx) => {
        const row = await this.liveStreamRow(tx, stream);
        assertRevisionHolds(stream, expectedRevision, row.last_revision);
        await tx`UPDATE failsafe_streams SET deleted = true WHERE id = ${row.id}`;
      }),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    this.closed = true;
    this.wakeSubscribers();
    clearTimeout(this.relisten);
    const listener = this.listener;
    this.listener = undefined;
    await Promise.all([listener?.end({ timeout: 5 }), this.sql.end({ timeout: 5 })]);
  }
}
