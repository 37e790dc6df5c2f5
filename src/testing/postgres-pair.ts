/**
 * A PostgreSQL primary with one synchronous streaming-replication standby on loopback: every commit
 * the primary acknowledges is on the standby too, so promoting the standby after the primary's loss
 * loses no acknowledged event. Used by `scripts/postgres-pair.ts`, the failover tests and the bench.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type PostgresServer, startPostgres, startStandby } from './postgres-server.js';

/** The standby's `application_name`, named in the primary's `synchronous_standby_names`. */
export const STANDBY_NAME = 'standby';

export interface PostgresPair {
  readonly primary: PostgresServer;
  readonly standby: PostgresServer;
  /** The multi-host URL a client fails over with: it lands on whichever of the two accepts writes. */
  readonly url: string;
}

export interface PostgresPairOptions {
  /** The folder both data folders are made in (default the system temp folder). */
  readonly under?: string;
  /** The database made for Failsafe (default `failsafe`). */
  readonly database?: string;
}

/** The URL of `database` on the two servers, in order, for whichever accepts writes. */
export function pairUrl(primary: PostgresServer, standby: PostgresServer, database = 'failsafe'): string {
  const hosts = [primary, standby].map((server) => `${server.host}:${server.port}`).join(',');
  return `postgresql://postgres@${hosts}/${database}?target_session_attrs=read-write`;
}

/** Until the primary reports the standby as its synchronous one (a commit before that would hang). */
async function untilSynchronous(primary: PostgresServer): Promise<void> {
  const query = `SELECT sync_state FROM pg_stat_replication WHERE application_name = '${STANDBY_NAME}'`;
  for (let attempt = 0; attempt < 300; attempt += 1) {
    if ((await primary.psql(query)).trim() === 'sync') return;
    await sleep(100);
  }
  throw new Error(`the standby did not become synchronous within 30 s; see ${primary.dir}/server.log`);
}

/** Starts a primary, then its synchronous standby, then makes the database (replicated to both). */
export async function startPostgresPair(options: PostgresPairOptions = {}): Promise<PostgresPair> {
  const database = options.database ?? 'failsafe';
  const primary = await startPostgres({
    ...(options.under && { under: options.under }),
    settings: { synchronous_standby_names: `'${STANDBY_NAME}'` },
  });
  let standby: PostgresServer | undefined;
  try {
    standby = await startStandby(primary, { name: STANDBY_NAME, ...(options.under && { under: options.under }) });
    await untilSynchronous(primary);
    await primary.psql(`CREATE DATABASE ${database}`);
    return { primary, standby, url: pairUrl(primary, standby, database) };
  } catch (error) {
    await standby?.stop();
    await primary.stop();
    throw error;
  }
}

/**
 * Promotes the standby to primary (once the primary is lost), as an operator does: `pg_ctl promote`,
 * then clearing `synchronous_standby_names`, which pg_basebackup copied from the old primary. Left set,
 * the new primary would wait for a synchronous standby that does not exist and every commit would hang.
 * From then on commits are on one server only, until a new standby joins.
 */
export async function promoteStandby(standby: PostgresServer): Promise<void> {
  await standby.promote();
  // ALTER SYSTEM cannot run in a transaction block, which one psql -c of two statements is.
  await standby.psql("ALTER SYSTEM SET synchronous_standby_names = ''");
  await standby.psql('SELECT pg_reload_conf()');
}
