import type Database from 'better-sqlite3';
import { openLocalStateDatabase } from './local-state-database.js';
import type { Checkpoint, CheckpointStore } from './checkpoint-store.js';

/** Checkpoints in a SQLite file of their own beside the event store (see openLocalStateDatabase). */
export class SqliteCheckpointStore implements CheckpointStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = openLocalStateDatabase(
      path,
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
