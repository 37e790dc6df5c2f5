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
});
