import Database from 'better-sqlite3';
import type { NewEvent } from '../src/event-store/event-store.js';

/**
 * The limit on this machine: the same rows written and read with better-sqlite3 and nothing else.
 * Included: JSON serialisation of data and metadata, a prepared INSERT, one transaction per
 * append, WAL with synchronous=FULL, paged SELECTs with JSON.parse when reading.
 * Excluded (what Failsafe adds on top): input validation, the expected-revision check, the
 * idempotency lookup, unique indexes on event id and (stream, revision), the streams table,
 * retention, bigint conversion and the subscription machinery.
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
