import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Checkpoint, CheckpointStore } from './checkpoint-store.js';

/**
 * Checkpoints in a SQLite file of their own beside the event store: losing it costs only a
 * rebuild from zero, so NORMAL synchronous is enough here.
 */
export class SqliteCheckpointStore implements CheckpointStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    mkdirSync(dirname(resolve(path)), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS checkpoints ' +
        '(name TEXT PRIMARY KEY, position TEXT NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL)',
    );
  }

  async load(name: string): Promise<Checkpoint | undefined> {
    const row = this.db.prepare('SELECT position, version, state FROM checkpoints WHERE name = ?').get(name) as
      | { position: string; version: number; state: string }
      | undefined;
    return row && { position: BigInt(row.position), version: row.version, state: JSON.parse(row.state) };
  }

  async save(name: string, { position, version, state }: Checkpoint): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO checkpoints (name, position, version, state) VALUES (?, ?, ?, ?) ' +
          'ON CONFLICT (name) DO UPDATE SET ' +
          'position = excluded.position, version = excluded.version, state = excluded.state',
      )
      .run(name, position.toString(), version, JSON.stringify(state));
  }

  async delete(name: string): Promise<void> {
    this.db.prepare('DELETE FROM checkpoints WHERE name = ?').run(name);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
