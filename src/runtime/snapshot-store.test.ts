import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemorySnapshotStore } from './memory-snapshot-store.js';
import { snapshotStoreContract } from './snapshot-store.contract.js';
import { SqliteSnapshotStore } from './sqlite-snapshot-store.js';

const dir = mkdtempSync(join(tmpdir(), 'failsafe-snapshots-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

snapshotStoreContract('MemorySnapshotStore', () => new MemorySnapshotStore());
snapshotStoreContract('SqliteSnapshotStore', () => new SqliteSnapshotStore(join(dir, `snapshots-${files++}.db`)));

describe('SqliteSnapshotStore', () => {
  it('keeps its snapshots across a reopen, beside the checkpoints in the same file', async () => {
    const path = join(dir, 'checkpoints.db');
    const key = { name: 'replay-at', version: '1', variant: '' };
    const first = new SqliteSnapshotStore(path);
    await first.save(key, {
      position: 7n,
      lastEventId: 'e-7',
      eventsFolded: 7,
      maxEventTime: 70,
      blockFrom: 0n,
      blockMinEventTime: 10,
      state: { services: {} },
    });
    await first.close();
    const again = new SqliteSnapshotStore(path);
    expect((await again.atOrBeforeTime(key, 70))?.state).toEqual({ services: {} });
    await again.close();
  });

  it('reads a snapshot an earlier version stored as text, and writes new ones as bytes in large pages', async () => {
    const path = join(dir, 'text-era.db');
    const key = { name: 'audit-verify', version: '1', variant: '' };
    const store = new SqliteSnapshotStore(path);
    const info = { lastEventId: 'e', eventsFolded: 1, maxEventTime: 1, blockFrom: 0n, blockMinEventTime: 1 };
    await store.save(key, { ...info, position: 2n, state: { n: 2 } });
    const raw = new Database(path);
    raw
      .prepare("INSERT INTO snapshots VALUES ('audit-verify', '1', '', 1, 'e', 1, 1, 0, 1, ?)")
      .run(JSON.stringify({ n: 1, name: 'é' }));
    expect(raw.prepare('SELECT typeof(state) AS t FROM snapshots ORDER BY position').pluck().all()).toEqual([
      'text',
      'blob',
    ]);
    expect(raw.pragma('page_size', { simple: true })).toBe(65536);
    raw.close();
    expect((await store.atOrBeforePosition(key, 1n))?.state).toEqual({ n: 1, name: 'é' });
    expect((await store.atOrBeforePosition(key, 2n))?.state).toEqual({ n: 2 });
    await store.close();
  });
});
