import type { ExpectedRevision } from './event-store.js';

/** Base of every error an event store adapter throws on purpose; `code` is stable for callers. */
export abstract class EventStoreError extends Error {
  abstract readonly code: string;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

const describeExpected = (expected: ExpectedRevision): string =>
  typeof expected === 'bigint' ? `revision ${expected}` : expected;

/** Someone else appended first: re-read the stream, decide again, retry. */
export class WrongExpectedRevision extends EventStoreError {
  readonly code = 'WRONG_EXPECTED_REVISION';
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    /** The stream's current revision, or `'no_stream'` when it has no events. */
    readonly actual: bigint | 'no_stream',
  ) {
    super(
      `WrongExpectedRevision: stream "${stream}" expected ${describeExpected(expected)} but is at ` +
        `${actual === 'no_stream' ? 'no_stream' : `revision ${actual}`}; re-read the stream and retry`,
    );
  }
}

export class StreamDeleted extends EventStoreError {
  readonly code = 'STREAM_DELETED';
  constructor(readonly stream: string) {
    super(`StreamDeleted: stream "${stream}" was deleted and cannot be read or appended to`);
  }
}

/** An event id already stored elsewhere than this append would put it: a bug in the writer. */
export class DuplicateEventId extends EventStoreError {
  readonly code = 'DUPLICATE_EVENT_ID';
  constructor(
    readonly eventId: string,
    detail: string,
  ) {
    super(`DuplicateEventId: event id ${eventId} ${detail}; give each new event a fresh id`);
  }
}

export interface FieldProblem {
  /** Dotted path of the offending field, e.g. `events[2].data.errorRate`. */
  readonly path: string;
  readonly message: string;
}

/** Input that cannot be stored; nothing was written. */
export class InvalidEvent extends EventStoreError {
  readonly code = 'INVALID_EVENT';
  constructor(readonly problems: readonly FieldProblem[]) {
    super(`InvalidEvent: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  }
}

/** The database file is damaged. Never reset automatically: restore it from a backup. */
export class StoreCorrupt extends EventStoreError {
  readonly code = 'STORE_CORRUPT';
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(
      `StoreCorrupt: ${path} is damaged (${detail}); Failsafe left it untouched — ` +
        'restore it from a backup or move it aside to start a new store',
    );
  }
}

/** Another process held the store's write lock past the busy timeout and each later try; nothing was written. */
export class StoreBusy extends EventStoreError {
  readonly code = 'STORE_BUSY';
  constructor(
    readonly path: string,
    readonly sqliteCode: string,
  ) {
    super(
      `StoreBusy: ${path} stayed locked by another process (${sqliteCode}) through every wait; nothing was written — ` +
        'try again, and if it lasts, look for a process holding a long write on it',
    );
  }
}

/** The file is a database, but not a Failsafe event store (or one from a newer Failsafe). */
export class ForeignStore extends EventStoreError {
  readonly code = 'FOREIGN_STORE';
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`ForeignStore: ${path} ${detail}; Failsafe left it untouched — point the store at another path`);
  }
}

export class StoreClosed extends EventStoreError {
  readonly code = 'STORE_CLOSED';
  constructor() {
    super('StoreClosed: the event store was closed; open it again');
  }
}

/** An archive segment is damaged. Never rewritten automatically: restore it from a backup. */
export class ArchiveCorrupt extends EventStoreError {
  readonly code = 'ARCHIVE_CORRUPT';
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(
      `ArchiveCorrupt: archive segment ${path} is damaged (${detail}); Failsafe left it untouched — ` +
        'restore it from a backup: the events it held cannot be audited until then',
    );
  }
}

/**
 * The store's server cannot be reached (or refused us). An append cut off this way may or may not
 * have committed: retry it with the same event ids, which writes it at most once.
 */
export class StoreUnavailable extends EventStoreError {
  readonly code = 'STORE_UNAVAILABLE';
  constructor(
    /** The store's URL with any password masked. */
    readonly store: string,
    detail: string,
  ) {
    super(`StoreUnavailable: ${store}: ${detail}; check the server and the URL`);
  }
}

/**
 * The write committed on the primary, but no synchronous standby confirmed it in time: it is not
 * acknowledged, since losing the primary now would lose it. Retrying with the same event ids writes
 * nothing twice, and succeeds once a standby confirms.
 */
export class ReplicationStalled extends EventStoreError {
  readonly code = 'REPLICATION_STALLED';
  constructor(
    /** The store's URL with any password masked. */
    readonly store: string,
    readonly timeoutMs: number,
  ) {
    super(
      `ReplicationStalled: ${store}: the append committed on the primary but no synchronous standby confirmed it ` +
        `within ${timeoutMs / 1000} s; check the standby (pg_stat_replication on the primary lists it when it is ` +
        "connected) or, to go on without one, clear the primary's synchronous_standby_names; then retry the " +
        'append with the same event ids: nothing is written twice',
    );
  }
}
