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
  // Its rows are read models' states, megabytes each: large pages make writing one several times
  // quicker (measured on a 30 MB snapshot). Takes effect only when the file is created.
  db.pragma('page_size = 65536');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec(schema);
  return db;
}
