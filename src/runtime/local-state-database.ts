import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Opens (creating it and its folder) a SQLite file of Failsafe's local state beside the event
 * store: checkpoints and snapshots. Losing it costs only a longer replay, never an event, so
 * NORMAL synchronous is enough; WAL and a busy timeout let `serve` and an audit share it.
 */
export function openLocalStateDatabase(path: string, schema: string): Database.Database {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec(schema);
  return db;
}
