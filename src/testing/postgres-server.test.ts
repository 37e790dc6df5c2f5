import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresBinDir, type PostgresServer, startPostgres, startStandby } from './postgres-server.js';

const bin = await postgresBinDir();
if (!bin && process.env.CI === 'true') throw new Error('PostgreSQL is missing: run scripts/provision.sh');

describe.skipIf(!bin)('throwaway PostgreSQL servers', () => {
  let primary: PostgresServer;
  let standby: PostgresServer;
  beforeAll(async () => {
    primary = await startPostgres({ settings: { synchronous_standby_names: "'standby'" } });
    standby = await startStandby(primary, { name: 'standby' });
  }, 60_000);
  afterAll(async () => {
    await standby?.stop();
    await primary?.stop();
  });

  it('runs a primary whose commits wait for the synchronous standby, which has them', async () => {
    expect(await primary.psql("SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'")).toBe(
      'sync\n',
    );
    await primary.psql('CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2)');
    expect(await standby.psql('SELECT count(*) FROM t')).toBe('2\n');
    expect(await standby.psql('SELECT pg_is_in_recovery()')).toBe('t\n');
  });

  it('promotes the standby once the primary crashed, keeping every committed row', async () => {
    await primary.psql('INSERT INTO t VALUES (3)');
    await primary.stop({ mode: 'immediate', keep: true });
    await standby.promote();
    expect(await standby.psql('SELECT pg_is_in_recovery()')).toBe('f\n');
    expect(await standby.psql('SELECT count(*) FROM t')).toBe('3\n');
  });
});
