import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archivedHistory } from '../audit/archived-history.js';
import { TsxChild } from './child-process.fixture.js';
import { collect } from './event-store.contract.js';
import { StoreBusy } from './errors.js';
import { SqliteEventStore } from './sqlite-event-store.js';

// Killed appends, several processes on one stream: the contract runs those for every adapter.
describe('SQLite event store with real processes', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-kill-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('opens a new store another process is creating at that moment, instead of creating it twice', async () => {
    const path = join(dir, 'created-twice.db');
    const holder = new TsxChild(new URL('./sqlite-create-holder.fixture.ts', import.meta.url), [path, '1500']);
    await holder.waitForLine((line) => line === 'holding');
    // It saw an empty file, then waited for the write lock the other process holds until it commits.
    const store = SqliteEventStore.open({ path });
    try {
      await holder.exited();
      expect(holder.exitCode, holder.stderr).toBe(0);
      await store.append('s-1', [{ id: uuidv7(), type: 'Opened', data: {} }], 'no_stream');
      expect((await collect(store.readAll())).map((e) => e.type)).toEqual(['Opened']);
    } finally {
      await store.close();
    }
  });

  describe('a write lock another process holds past the busy timeout', () => {
    const holding = async (path: string, holdMs: number) => {
      const holder = new TsxChild(new URL('./sqlite-create-holder.fixture.ts', import.meta.url), [
        path,
        String(holdMs),
      ]);
      await holder.waitForLine((line) => line === 'holding');
      return holder;
    };

    it('is waited out: the append is tried again once it is released, and stored once', async () => {
      const store = SqliteEventStore.open({ path: join(dir, 'held-briefly.db'), busyTimeoutMs: 100 });
      try {
        await store.append('s-1', [{ id: uuidv7(), type: 'Before', data: {} }], 'no_stream');
        const holder = await holding(join(dir, 'held-briefly.db'), 700);
        await store.append('s-1', [{ id: uuidv7(), type: 'After', data: {} }], 0n);
        await holder.exited();
        expect(holder.exitCode, holder.stderr).toBe(0);
        expect((await collect(store.readAll())).map((e) => e.type)).toEqual(['Before', 'After']);
      } finally {
        await store.close();
      }
    });

    it('held through every wait: StoreBusy says what to do, and nothing is written', async () => {
      const store = SqliteEventStore.open({ path: join(dir, 'held-long.db'), busyTimeoutMs: 100 });
      try {
        const holder = await holding(join(dir, 'held-long.db'), 4000);
        const append = store.append('s-1', [{ id: uuidv7(), type: 'Refused', data: {} }], 'no_stream');
        await expect(append).rejects.toBeInstanceOf(StoreBusy);
        await expect(append).rejects.toThrow(/^StoreBusy: .*held-long\.db stayed locked .*SQLITE_BUSY.*try again/);
        await holder.exited();
        expect(await collect(store.readAll())).toEqual([]);
      } finally {
        await store.close();
      }
    });
  });

  it('keeps every event exactly once when killed after archiving a trim and before deleting it', async () => {
    const path = join(dir, 'archive-kill.db');
    const child = new TsxChild(new URL('./sqlite-trim-crash-worker.fixture.ts', import.meta.url), [path]);
    const stuck = setTimeout(() => void child.kill(), 60_000);
    await child.exited();
    clearTimeout(stuck);
    expect(child.signal, child.stderr).toBe('SIGKILL');
    const acknowledged = child.lines.filter((line) => line.startsWith('ack ')).map((line) => line.slice(4));
    // The eleventh append trimmed the first sample: archived, then killed before its delete committed.
    expect(acknowledged).toHaveLength(10);
    const store = SqliteEventStore.open({ path });
    try {
      const history = archivedHistory(store, store.archive);
      const ids = async (source: AsyncIterable<{ id: string }>) => (await collect(source)).map((e) => e.id);
      expect(await ids(store.archive.cursor(0n).upTo(2n ** 63n))).toEqual([acknowledged[0]]);
      expect(await ids(store.readAll())).toEqual(acknowledged);
      expect(await ids(history.readAll())).toEqual(acknowledged);
      // The next append trims again and archives the same sample a second time, harmlessly.
      const more = Array.from({ length: 5 }, () => ({ id: uuidv7(), type: 'Sampled', data: {} }));
      for (const event of more) await store.append('health-k', [event], 'any');
      expect(await ids(history.readAll())).toEqual([...acknowledged, ...more.map((e) => e.id)]);
      expect((await ids(store.readAll())).length).toBe(10);
    } finally {
      await store.close();
    }
  }, 120_000);
});
