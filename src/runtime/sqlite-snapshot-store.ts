import type Database from 'better-sqlite3';
import { openLocalStateDatabase } from './local-state-database.js';
import type { Snapshot, SnapshotInfo, SnapshotKey, SnapshotStore } from './snapshot-store.js';

interface Row {
  position: bigint;
  last_event_id: string;
  events_folded: bigint;
  max_event_time: bigint;
  block_from: bigint;
  block_min_event_time: bigint;
  state?: string | Buffer;
}

const INFO = 'position, last_event_id, events_folded, max_event_time, block_from, block_min_event_time';
const KEY = 'name = ? AND version = ? AND variant = ?';
const keyArgs = ({ name, version, variant }: SnapshotKey) => [name, version, variant];

const infoOf = (row: Row): SnapshotInfo => ({
  position: row.position,
  lastEventId: row.last_event_id,
  eventsFolded: Number(row.events_folded),
  maxEventTime: Number(row.max_event_time),
  blockFrom: row.block_from,
  blockMinEventTime: Number(row.block_min_event_time),
});

/** Snapshots in SQLite, in the checkpoints' file (see checkpointsFile): like them they hold positions of one store. */
export class SqliteSnapshotStore implements SnapshotStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = openLocalStateDatabase(
      path,
      'CREATE TABLE IF NOT EXISTS snapshots (name TEXT NOT NULL, version TEXT NOT NULL, variant TEXT NOT NULL, ' +
        'position INTEGER NOT NULL, last_event_id TEXT NOT NULL, events_folded INTEGER NOT NULL, ' +
        'max_event_time INTEGER NOT NULL, block_from INTEGER NOT NULL, block_min_event_time INTEGER NOT NULL, ' +
        'state TEXT NOT NULL, PRIMARY KEY (name, version, variant, position))',
    );
  }

  private query(sql: string) {
    return this.db.prepare(sql).safeIntegers(true);
  }

  async save(key: SnapshotKey, s: Snapshot): Promise<void> {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO snapshots (name, version, variant, ${INFO}, state) ` +
          'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        ...keyArgs(key),
        s.position,
        s.lastEventId,
        s.eventsFolded,
        s.maxEventTime,
        s.blockFrom,
        s.blockMinEventTime,
        // As bytes: better-sqlite3 hands a long text back several times slower than a blob.
        Buffer.from(JSON.stringify(s.state)),
      );
  }

  private one(row: Row | undefined): Snapshot | undefined {
    if (!row) return undefined;
    const text = typeof row.state === 'string' ? row.state : row.state!.toString('utf8');
    return { ...infoOf(row), state: JSON.parse(text) };
  }

  async atOrBeforePosition(key: SnapshotKey, position: bigint): Promise<Snapshot | undefined> {
    const sql = `SELECT ${INFO}, state FROM snapshots WHERE ${KEY} AND position <= ? ORDER BY position DESC LIMIT 1`;
    return this.one(this.query(sql).get(...keyArgs(key), position) as Row | undefined);
  }

  async atOrBeforeTime(key: SnapshotKey, time: number): Promise<Snapshot | undefined> {
    // The newest event time covered only grows with the position, so the last that fits is the nearest.
    const sql =
      `SELECT ${INFO}, state FROM snapshots WHERE ${KEY} AND max_event_time <= ? ` + 'ORDER BY position DESC LIMIT 1';
    const bounded = Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, Math.floor(time)));
    return this.one(this.query(sql).get(...keyArgs(key), bounded) as Row | undefined);
  }

  async infosAfter(key: SnapshotKey, position: bigint): Promise<SnapshotInfo[]> {
    const sql = `SELECT ${INFO} FROM snapshots WHERE ${KEY} AND position > ? ORDER BY position`;
    return (this.query(sql).all(...keyArgs(key), position) as Row[]).map(infoOf);
  }

  async discard(key: SnapshotKey): Promise<void> {
    this.db.prepare(`DELETE FROM snapshots WHERE ${KEY}`).run(...keyArgs(key));
  }

  async keepLatest(key: SnapshotKey, count: number): Promise<void> {
    const newest = `SELECT position FROM snapshots WHERE ${KEY} ORDER BY position DESC LIMIT ?`;
    this.db
      .prepare(`DELETE FROM snapshots WHERE ${KEY} AND position NOT IN (${newest})`)
      .run(...keyArgs(key), ...keyArgs(key), count);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
