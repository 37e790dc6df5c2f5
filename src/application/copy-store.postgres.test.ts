import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamDeleted } from '../event-store/errors.js';
import { collect } from '../event-store/event-store.contract.js';
import { PostgresEventStore } from '../event-store/postgres-event-store.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { postgresBinDir } from '../testing/postgres-server.js';
import { postgresForTests } from '../testing/test-servers.js';
import { copyStore } from './copy-store.js';
import { SAMPLE_RETENTION, wholeHistory, writeSampleHistory } from './copy-store.fixture.js';

if (!(await postgresBinDir()) && process.env.CI === 'true')
  throw new Error('PostgreSQL is missing: run scripts/provision.sh');
const server = await postgresForTests();
afterAll(() => server.stop());

describe('copying a store between SQLite and PostgreSQL', () => {
  let dir: string;
  let sqlite: SqliteEventStore;
  let postgres: PostgresEventStore;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-urls-copy-pg-'));
    await writeSampleHistory(join(dir, 'source.db'));
    sqlite = SqliteEventStore.open({ path: join(dir, 'source.db') });
    await server.psql('CREATE DATABASE copied');
    postgres = await PostgresEventStore.open({ url: server.url('copied') });
  });
  afterAll(async () => {
    await sqlite?.close();
    await postgres?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies SQLite into PostgreSQL whole: events, original times, retention, deletions', async () => {
    const expected = await wholeHistory(sqlite);
    const report = await copyStore(sqlite, postgres, { batchSize: 100 });
    expect(report).toMatchObject({ events: expected.length, copied: expected.length, retention: 4, deleted: 1 });
    expect(await wholeHistory(postgres)).toEqual(expected);
    for (const [stream, retention] of Object.entries(SAMPLE_RETENTION))
      expect(await postgres.getStreamMetadata(stream)).toEqual(retention);
    await expect(collect(postgres.readStream('deleted-x'))).rejects.toBeInstanceOf(StreamDeleted);
    expect(await copyStore(sqlite, postgres)).toMatchObject({ copied: 0, digest: report.digest });
  });

  it('copies it back out of PostgreSQL into an empty SQLite store with the same digest', async () => {
    const back = SqliteEventStore.open({ path: join(dir, 'back.db') });
    try {
      const there = await copyStore(sqlite, postgres);
      const report = await copyStore(postgres, back);
      expect(report).toMatchObject({ events: there.events, digest: there.digest });
      expect(await wholeHistory(back)).toEqual(await wholeHistory(sqlite));
    } finally {
      await back.close();
    }
  });
});
