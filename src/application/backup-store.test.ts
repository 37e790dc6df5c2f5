import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { openSync, closeSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TsxChild } from '../event-store/child-process.fixture.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import type { StoreLocation } from '../event-store/store-url.js';
import { BackupCorrupt, BackupRefused } from './backup-errors.js';
import { storeCommand } from '../cli/store-commands.js';
import { backupStore, restoreStore } from './backup-store.js';
import {
  backUpWhileAppending,
  expectAuditOk,
  expectConsistentPrefix,
  failsafe,
  historyOf,
  startTicker,
  untilAcknowledged,
} from './backup-store.fixture.js';

const historyAt = async (path: string) => {
  const store = SqliteEventStore.open({ path });
  try {
    return await historyOf(store);
  } finally {
    await store.close();
  }
};

describe('store backup and restore of the embedded SQLite store', () => {
  let dir: string;
  let writer: TsxChild;
  const liveStore = () => join(dir, 'data', 'failsafe.db');
  const backup = () => join(dir, 'backup.db');
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-backup-'));
    writer = await startTicker(`sqlite:${liveStore()}`);
    await untilAcknowledged(writer, 900);
  });
  afterAll(async () => {
    await writer?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('backs up while a writer appends: the restore is a consistent prefix, archive included, audit OK', async () => {
    const before = await backUpWhileAppending(writer, ['--data-dir', join(dir, 'data')], backup());
    const restoredDir = join(dir, 'restored');
    // In-process here (the PostgreSQL test restores through the CLI): each CLI start costs seconds.
    await restoreStore(backup(), { kind: 'sqlite', path: join(restoredDir, 'failsafe.db') });
    // Retention trimmed the clock stream: the history is whole only with the archive carried over.
    expect(readdirSync(join(restoredDir, 'failsafe.db.archive')).length).toBeGreaterThan(0);
    const history = await historyAt(join(restoredDir, 'failsafe.db'));
    const live = await historyAt(liveStore());
    expectConsistentPrefix(history, live, before);
    expect(history.length).toBeLessThan(live.length);
    await expectAuditOk(['--data-dir', restoredDir]);
  });

  it('refuses bad input with an error that says what to do, writing nothing', async () => {
    const fresh: StoreLocation = { kind: 'sqlite', path: join(dir, 'fresh', 'failsafe.db') };
    const refused = async (work: Promise<unknown>, error: new (...args: never[]) => Error, message: RegExp) => {
      await expect(work).rejects.toSatisfy((e) => e instanceof error && message.test((e as Error).message));
      expect(existsSync(join(dir, 'fresh'))).toBe(false);
    };
    const inDir = (name: string) => join(dir, name);
    await refused(restoreStore(backup(), { kind: 'sqlite', path: liveStore() }), BackupRefused, /is not empty/);
    await refused(
      restoreStore(relative(process.cwd(), join(dir, '..', 'missing.db')), fresh),
      BackupRefused,
      new RegExp(`${join(dir, '..', 'missing.db')}: no such backup file`),
    );
    const source: StoreLocation = { kind: 'sqlite', path: liveStore() };
    await refused(backupStore(source, inDir('no-such-folder/b.db')), BackupRefused, /folder .* does not exist/);
    await refused(backupStore(source, backup()), BackupRefused, /exists already; name a new file/);
    await refused(restoreStore(liveStore(), fresh), BackupCorrupt, /a store, not a backup/);
    const postgres: StoreLocation = { kind: 'postgres', url: 'postgres://nobody@127.0.0.1:1/x' };
    await refused(restoreStore(backup(), postgres), BackupRefused, /restores into one/);

    const truncated = inDir('truncated.db');
    copyFileSync(backup(), truncated);
    truncateSync(truncated, Math.floor(statSync(truncated).size / 2));
    await refused(restoreStore(truncated, fresh), BackupCorrupt, /truncated\.db cannot be restored/);

    // Bytes overwritten inside the last page: a row of events or the manifest.
    const damaged = inDir('damaged.db');
    copyFileSync(backup(), damaged);
    const fd = openSync(damaged, 'r+');
    writeSync(fd, Buffer.from('XXXXXXXXXXXXXXXX'), 0, 16, statSync(damaged).size - 600);
    closeSync(fd);
    await refused(restoreStore(damaged, fresh), BackupCorrupt, /damaged\.db cannot be restored/);

    // A store that holds nothing yet (made by a first start) is replaced, its WAL with it.
    await SqliteEventStore.open({ path: fresh.path }).close();
    const { manifest } = await restoreStore(backup(), fresh);
    expect(await historyAt(fresh.path)).toHaveLength(manifest.events);
    expect(readdirSync(join(dir, 'fresh')).filter((name) => !name.startsWith('failsafe.db'))).toEqual([]);
  });

  it('leaves no file under the name asked for when Ctrl-C stops a backup', async () => {
    const big = join(dir, 'big', 'failsafe.db');
    const store = SqliteEventStore.open({ path: big });
    const payload = 'x'.repeat(1000);
    for (let batch = 0; batch < 6; batch += 1)
      await store.append(
        `big-${batch}`,
        Array.from({ length: 1000 }, (_, n) => ({ id: uuidv7(), type: 'Filled', data: { n, payload } })),
        'no_stream',
      );
    await store.close();
    mkdirSync(join(dir, 'out'));
    const run = failsafe(['store', 'backup', '--store', `sqlite:${big}`, join(dir, 'out', 'big.db')]);
    await new Promise<void>((resolve) => run.child.stderr.once('data', () => resolve()));
    run.child.kill('SIGINT');
    const result = await run.done;
    expect(result.stderr).toMatch(/SIGINT: stopping and removing the partial files/);
    expect(result.stderr).toMatch(/failsafe: BackupInterrupted: /);
    expect(result.code).toBe(1);
    expect(readdirSync(join(dir, 'out'))).toEqual([]);
  });

  it('explains both commands in --help', () => {
    const commands = storeCommand().commands.filter((c) => ['backup', 'restore'].includes(c.name()));
    expect(commands).toHaveLength(2);
    for (const command of commands) {
      const help = command.helpInformation();
      expect(help).toMatch(new RegExp(`Usage: store ${command.name()} \\[options\\] <file>`));
      expect(help).toMatch(/--data-dir <dir>/);
      expect(help).toMatch(/empty|snapshot/);
    }
  });
});
