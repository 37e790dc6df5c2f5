/**
 * A child process that holds the write lock of the SQLite store at argv[2] (creating the store inside
 * the transaction when there is none: the race of two processes creating one store), prints "holding",
 * then commits after argv[3] milliseconds and exits.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { SqliteEventStore } from './sqlite-event-store.js';

const [path, holdMs] = process.argv.slice(2);
if (!path || !holdMs) {
  process.stderr.write('usage: sqlite-create-holder.fixture.ts <path> <hold ms>\n');
  process.exit(2);
}
const db = new Database(path);
db.exec('BEGIN IMMEDIATE');
// The store's own creation, as `open` runs it, inside the transaction held here (it nests as a savepoint).
(SqliteEventStore as unknown as { initialise(db: Database.Database, path: string): void }).initialise(db, path);
process.stdout.write('holding\n');
await sleep(Number(holdMs));
db.exec('COMMIT');
db.close();
