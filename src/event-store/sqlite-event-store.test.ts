import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, describeEventStoreContract, events } from './event-store.contract.js';
import { ForeignStore, StoreClosed, StoreCorrupt } from './errors.js';
import { describeSharedPagesContract } from './shared-pages.contract.js';
import { SqliteEventStore } from './sqlite-event-store.js';
import { fixedClock } from '../runtime/clock.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'failsafe-sqlite-'));

describeSharedPagesContract('SQLite', async () => {
  const dir = tempDir();
  const store = SqliteEventStore.open({ path: join(dir, 'events.db'), readPageSize: 10, livePollIntervalMs: 20 });
  return {
    store,
    dispose: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describeEventStoreContract('SQLite', async () => {
  const dir = tempDir();
  const path = join(dir, 'events.db');
  const store = SqliteEventStore.open({ path, livePollIntervalMs: 50 });
  return {
    store,
    archive: store.archive,
    url: `sqlite:${path}`,
    checkIntegrity: async () => {
      const raw = new Database(path, { readonly: true });
      try {
        expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
      } finally {
        raw.close();
      }
    },
    dispose: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SQLite event store', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const digest = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

  it('runs in WAL mode with synchronous=FULL, so an acknowledged append survives power loss', async () => {
    const store = SqliteEventStore.open({ path: join(dir, 'events.db') });
    expect(store.durability()).toEqual({ journalMode: 'wal', synchronous: 'FULL' });
    await store.close();
    const extra = SqliteEventStore.open({ path: join(dir, 'events.db'), synchronous: 'EXTRA' });
    expect(extra.durability().synchronous).toBe('EXTRA');
    await extra.close();
  });

  it('keeps its events across close and reopen', async () => {
    const path = join(dir, 'events.db');
    const store = SqliteEventStore.open({ path });
    const written = events(4);
    await store.append('svc', written, 'no_stream');
    await store.close();
    const reopened = SqliteEventStore.open({ path });
    expect((await collect(reopened.readAll())).map((e) => e.id)).toEqual(written.map((e) => e.id));
    expect(await reopened.append('svc', events(1), 3n)).toMatchObject({ nextExpectedRevision: 4n });
    await reopened.close();
  });

  it('refuses a file that is not a database, and leaves it untouched', () => {
    const path = join(dir, 'events.db');
    writeFileSync(path, 'this is a text file, not a database\n'.repeat(200));
    const before = digest(path);
    expect(() => SqliteEventStore.open({ path })).toThrow(StoreCorrupt);
    expect(() => SqliteEventStore.open({ path })).toThrow(/not a SQLite database file.*restore it from a backup/);
    expect(digest(path)).toBe(before);
  });

  it("refuses another application's SQLite database, and leaves it untouched", () => {
    const path = join(dir, 'other.db');
    const other = new Database(path);
    other.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5)');
    other.close();
    const before = digest(path);
    expect(() => SqliteEventStore.open({ path })).toThrow(ForeignStore);
    expect(digest(path)).toBe(before);
  });

  it('refuses a store written by a newer Failsafe', async () => {
    const path = join(dir, 'events.db');
    await SqliteEventStore.open({ path }).close();
    const raw = new Database(path);
    raw.pragma('user_version = 99');
    raw.close();
    expect(() => SqliteEventStore.open({ path })).toThrow(/newer Failsafe \(store schema 99/);
  });

  it('reports damaged pages as StoreCorrupt instead of resetting the store', async () => {
    const path = join(dir, 'events.db');
    const store = SqliteEventStore.open({ path });
    for (let i = 0; i < 20; i += 1) await store.append(`svc-${i}`, events(50), 'no_stream');
    await store.close();
    const bytes = readFileSync(path);
    const pageSize = bytes.readUInt16BE(16);
    // Overwrite every page after the first few with garbage, keeping the header intact.
    for (let offset = pageSize * 2; offset < bytes.length; offset += 1) bytes[offset] = (offset * 7919) & 0xff;
    writeFileSync(path, bytes);
    const before = digest(path);
    const attempt = async () => {
      const damaged = SqliteEventStore.open({ path });
      try {
        await collect(damaged.readAll());
      } finally {
        await damaged.close();
      }
    };
    await expect(attempt()).rejects.toBeInstanceOf(StoreCorrupt);
    expect(digest(path)).toBe(before);
  });

  it('refuses work once closed', async () => {
    const store = SqliteEventStore.open({ path: join(dir, 'events.db') });
    await store.close();
    await expect(store.append('svc', events(1), 'any')).rejects.toBeInstanceOf(StoreClosed);
  });

  it('stamps appends and dates retention by the clock it is given', async () => {
    const clock = fixedClock('2026-01-01T00:00:00Z');
    const store = SqliteEventStore.open({ path: join(dir, 'events.db'), clock });
    try {
      await store.setStreamMetadata('svc', { maxAgeSeconds: 3600 });
      await store.append('svc', events(1), 'any');
      const [first] = await collect(store.readStream('svc'));
      expect(first!.recordedAt.toISOString()).toBe('2026-01-01T00:00:00.000Z');
      clock.set('2026-01-01T02:00:00Z');
      await store.append('svc', events(1), 'any');
      expect((await collect(store.readStream('svc'))).map((e) => e.recordedAt.toISOString())).toEqual([
        '2026-01-01T02:00:00.000Z',
      ]);
    } finally {
      await store.close();
    }
  });

  it('keeps the recordedAt an import gives, and still dates retention by its clock', async () => {
    const clock = fixedClock('2026-03-01T00:00:00Z');
    const store = SqliteEventStore.open({ path: join(dir, 'events.db'), clock });
    try {
      await store.append('svc', events(2), 'no_stream', { recordedAt: new Date('2025-12-24T10:00:00.123Z') });
      await store.append('svc', events(1), 1n);
      expect((await collect(store.readAll())).map((e) => e.recordedAt.toISOString())).toEqual([
        '2025-12-24T10:00:00.123Z',
        '2025-12-24T10:00:00.123Z',
        '2026-03-01T00:00:00.000Z',
      ]);
      await store.setStreamMetadata('svc', { maxAgeSeconds: 3600 });
      expect((await collect(store.readStream('svc'))).map((e) => e.revision)).toEqual([2n]);
      await expect(store.append('svc', events(1), 'any', { recordedAt: new Date('nonsense') })).rejects.toThrow(
        /options.recordedAt: must be a valid Date/,
      );
    } finally {
      await store.close();
    }
  });
});
