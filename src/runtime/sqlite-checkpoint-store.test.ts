import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteCheckpointStore } from './sqlite-checkpoint-store.js';

describe('SQLite checkpoint store', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-checkpoints-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the latest checkpoint of each projection across a reopen, and forgets on delete', async () => {
    const path = join(dir, 'checkpoints.db');
    const first = new SqliteCheckpointStore(path);
    await first.save('services', { position: 41n, version: 1, state: { a: 1 } });
    await first.save('services', { position: 9_007_199_254_740_993n, version: 2, state: { a: [2, 'x'] } });
    await first.save('incidents', { position: 3n, version: 1, state: {} });
    await first.close();
    const reopened = new SqliteCheckpointStore(path);
    expect(await reopened.load('services')).toEqual({
      position: 9_007_199_254_740_993n,
      version: 2,
      state: { a: [2, 'x'] },
    });
    await reopened.delete('services');
    expect(await reopened.load('services')).toBeUndefined();
    expect(await reopened.load('incidents')).toMatchObject({ position: 3n });
    await reopened.close();
  });
});
