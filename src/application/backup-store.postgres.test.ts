import {
  closeSync,
  copyFileSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TsxChild } from '../event-store/child-process.fixture.js';
import { PostgresEventStore } from '../event-store/postgres-event-store.js';
import { postgresBinDir } from '../testing/postgres-server.js';
import { postgresForTests } from '../testing/test-servers.js';
import { BackupCorrupt, BackupRefused } from './backup-errors.js';
import { restoreStore } from './backup-store.js';
import {
  backUpWhileAppending,
  expectAuditOk,
  expectConsistentPrefix,
  historyOf,
  restoreThroughCli,
  startTicker,
  untilAcknowledged,
} from './backup-store.fixture.js';

if (!(await postgresBinDir()) && process.env.CI === 'true')
  throw new Error('PostgreSQL is missing: run scripts/provision.sh');
const server = await postgresForTests();
afterAll(() => server.stop());

const historyAt = async (url: string) => {
  const store = await PostgresEventStore.open({ url });
  try {
    return await historyOf(store);
  } finally {
    await store.close();
  }
};

/** Failsafe tables in a database: none after a refused restore. */
const failsafeTables = async (database: string) =>
  Number(await server.psql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'failsafe%'", database));

describe('store backup and restore of the PostgreSQL store', () => {
  let dir: string;
  let writer: TsxChild;
  const backup = () => join(dir, 'backup.pgbackup');
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-backup-pg-'));
    for (const database of ['live', 'restored', 'fresh']) await server.psql(`CREATE DATABASE ${database}`);
    writer = await startTicker(server.url('live'));
    await untilAcknowledged(writer, 900);
  });
  afterAll(async () => {
    await writer?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('backs up one snapshot while a writer appends; the restore is a consistent prefix, audit OK', async () => {
    const before = await backUpWhileAppending(writer, ['--store', server.url('live')], backup());
    await restoreThroughCli(backup(), ['--store', server.url('restored')]);
    // Retention moved events into the archive table; the restored history holds them too.
    expect(Number(await server.psql('SELECT count(*) FROM failsafe_archived_events', 'restored'))).toBeGreaterThan(0);
    const history = await historyAt(server.url('restored'));
    const live = await historyAt(server.url('live'));
    expectConsistentPrefix(history, live, before);
    expect(history.length).toBeLessThan(live.length);
    await expectAuditOk(['--store', server.url('restored'), '--data-dir', join(dir, 'audit')]);
  });

  it('refuses a non-empty target, another kind of store and a cut or damaged backup, writing nothing', async () => {
    const fresh = { kind: 'postgres', url: server.url('fresh') } as const;
    await expect(restoreStore(backup(), { kind: 'postgres', url: server.url('live') })).rejects.toThrow(
      /BackupRefused: .*live is not empty/,
    );
    await expect(restoreStore(backup(), { kind: 'sqlite', path: join(dir, 'x.db') })).rejects.toBeInstanceOf(
      BackupRefused,
    );
    const truncated = join(dir, 'truncated.pgbackup');
    copyFileSync(backup(), truncated);
    truncateSync(truncated, statSync(truncated).size - 100);
    await expect(restoreStore(truncated, fresh)).rejects.toThrow(/BackupCorrupt: .*\(truncated\)/);
    const cut = join(dir, 'cut.pgbackup');
    copyFileSync(backup(), cut);
    truncateSync(cut, 40);
    await expect(restoreStore(cut, fresh)).rejects.toBeInstanceOf(BackupCorrupt);
    // One byte of the dump changed: same size, another checksum.
    const damaged = join(dir, 'damaged.pgbackup');
    copyFileSync(backup(), damaged);
    const fd = openSync(damaged, 'r+');
    const at = statSync(damaged).size - 200;
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, at);
    writeSync(fd, Buffer.from([byte[0]! ^ 0xff]), 0, 1, at);
    closeSync(fd);
    await expect(restoreStore(damaged, fresh)).rejects.toThrow(
      /BackupCorrupt: .*damaged\.pgbackup .*the manifest says/,
    );
    expect(await failsafeTables('fresh')).toBe(0);

    // A store that holds nothing yet (its schema made by a first start) is a target too.
    await (await PostgresEventStore.open({ url: server.url('fresh') })).close();
    const { manifest } = await restoreStore(backup(), fresh);
    expect(await historyAt(server.url('fresh'))).toHaveLength(manifest.events);
  });
});
