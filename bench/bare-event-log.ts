import Database from 'better-sqlite3';
import type { NewEvent } from '../src/event-store/event-store.js';

/**
 * The limit on this machine: the same rows written and read with better-sqlite3 and nothing else.
 *
 * Included, as in the store: the same ids, stream names, revisions and types; JSON serialisation
 * of data and metadata (JSON.stringify inside the timed loop); one prepared INSERT per event; one
 * transaction per append (per event or per batch); WAL with synchronous=FULL, so each commit
 * fsyncs the WAL. Reading: SELECTs of pages of the same size by position, with JSON.parse of data
 * and metadata for every row.
 *
 * Excluded, i.e. what Failsafe adds and the ratio prices: input validation (UUID and type checks,
 * duplicate ids in a batch), the idempotency lookup of the first event id, the expected-revision
 * check, the streams table (lookup, creation, last revision update) and retention, the unique
 * indexes on event id and (stream, revision), AUTOINCREMENT's sqlite_sequence update, and the
 * BEGIN IMMEDIATE write lock (the bare loop's BEGIN is deferred; alone in its process this makes
 * no difference). Reading: the join with the streams table, bigint positions and revisions, Date
 * objects, and one async-iterator step (a promise) per event.
 */
export class BareEventLog {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly page: Database.Statement;
  private readonly revisions = new Map<string, number>();
  private readonly appendBatch: (stream: string, events: readonly NewEvent[]) => void;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS events (
      position INTEGER PRIMARY KEY, stream TEXT NOT NULL, revision INTEGER NOT NULL, id TEXT NOT NULL,
      type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, recorded_at INTEGER NOT NULL)`);
    this.insert = this.db.prepare(
      'INSERT INTO events (stream, revision, id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.page = this.db.prepare('SELECT * FROM events WHERE position > ? ORDER BY position LIMIT ?').raw();
    this.appendBatch = this.db.transaction((stream: string, events: readonly NewEvent[]) => {
      let revision = this.revisions.get(stream) ?? -1;
      const now = Date.now();
      for (const e of events) {
        revision += 1;
        this.insert.run(stream, revision, e.id, e.type, JSON.stringify(e.data), JSON.stringify(e.metadata ?? {}), now);
      }
      this.revisions.set(stream, revision);
    });
  }

  append(stream: string, events: readonly NewEvent[]): void {
    this.appendBatch(stream, events);
  }

  /** Reads every row in pages, parsing data and metadata; returns how many were read. */
  readAll(pageSize: number): number {
    let after = 0;
    let read = 0;
    for (;;) {
      const rows = this.page.all(after, pageSize) as unknown[][];
      if (rows.length === 0) return read;
      for (const row of rows) {
        JSON.parse(row[5] as string);
        JSON.parse(row[6] as string);
      }
      read += rows.length;
      after = rows[rows.length - 1]![0] as number;
    }
  }

  close(): void {
    this.db.close();
  }
}
