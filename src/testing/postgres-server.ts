/**
 * Throwaway PostgreSQL servers from the binaries on this machine (Debian's PostgreSQL 15; see
 * ../shared/REAL-TOOLS.md): a primary on a loopback (or network-namespace) address, and streaming
 * replication standbys. Data lives in a temporary folder, never the system cluster; `stop()` removes it.
 * PostgreSQL refuses to run as root, so as root every server command runs as the `postgres` user.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from '../drills/toxiproxy.js';

const run = promisify(execFile);

export class PostgresMissing extends Error {
  readonly code = 'POSTGRES_MISSING';
  constructor(detail: string) {
    super(`PostgresMissing: ${detail}; run \`bash scripts/provision.sh\` (it installs PostgreSQL from Debian)`);
    this.name = 'PostgresMissing';
  }
}

/** The folder of initdb, pg_ctl and psql, from `pg_config`, or undefined when PostgreSQL is not installed. */
export async function postgresBinDir(): Promise<string | undefined> {
  try {
    const { stdout } = await run('pg_config', ['--bindir']);
    const dir = stdout.trim();
    return existsSync(join(dir, 'initdb')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

export interface PostgresServerOptions {
  /** The address it listens on (default 127.0.0.1). */
  readonly host?: string;
  readonly port?: number;
  /** A network namespace to run the server in (`ip netns exec`), for tests with several hosts. */
  readonly netns?: string;
  /** postgresql.conf settings, e.g. `{ synchronous_commit: 'on' }`. */
  readonly settings?: Readonly<Record<string, string>>;
  /** The folder its data folder is made in (default the system temp folder); the postgres user must reach it. */
  readonly under?: string;
}

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  /** Its data folder (and socket folder's parent). */
  readonly dir: string;
  /** A URL for the `postgres` superuser (no password: trust on loopback), to `database` (default postgres). */
  url(database?: string): string;
  /** Runs SQL through psql over the server's Unix socket; the output, unaligned and tuples only. */
  psql(sql: string, database?: string): Promise<string>;
  /** Turns a standby into a primary (`pg_ctl promote -w`). */
  promote(): Promise<void>;
  /** `fast` (default) lets clients finish; `immediate` is a crash. The data folder is removed unless `keep`. */
  stop(options?: { mode?: 'fast' | 'immediate'; keep?: boolean }): Promise<void>;
  /** Starts it again after `stop({ keep: true })`. */
  start(): Promise<void>;
}

const asRoot = userInfo().uid === 0;

async function exec(bin: string, command: string, args: readonly string[], netns?: string): Promise<string> {
  const path = join(bin, command);
  const asUser = asRoot ? ['runuser', '-u', 'postgres', '--', path, ...args] : [path, ...args];
  const full = netns ? ['ip', 'netns', 'exec', netns, ...asUser] : asUser;
  try {
    const { stdout } = await run(full[0]!, full.slice(1), { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stderr, message } = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${(stderr || message).trim()}`);
  }
}

/** A private temporary folder the server's user owns. */
async function ownedFolder(prefix: string, under = tmpdir()): Promise<string> {
  const dir = mkdtempSync(join(under, prefix));
  chmodSync(dir, 0o700);
  if (asRoot) {
    const id = async (flag: string) => Number((await run('id', [flag, 'postgres'])).stdout.trim());
    chownSync(dir, await id('-u'), await id('-g'));
  }
  return dir;
}

function server(bin: string, dir: string, host: string, port: number, netns: string | undefined): PostgresServer {
  const data = join(dir, 'data');
  const ctl = (...args: string[]) => exec(bin, 'pg_ctl', ['-D', data, ...args], netns);
  return {
    host,
    port,
    dir,
    url: (database = 'postgres') => `postgresql://postgres@${host}:${port}/${database}`,
    psql: (sql, database = 'postgres') =>
      exec(bin, 'psql', ['-h', dir, '-p', String(port), '-U', 'postgres', '-d', database, '-XAtq', '-c', sql], netns),
    promote: async () => {
      await ctl('promote', '-w');
    },
    start: async () => {
      await ctl('-l', join(dir, 'server.log'), '-w', '-t', '60', 'start');
    },
    stop: async ({ mode = 'fast', keep = false } = {}) => {
      await ctl('-m', mode, '-w', 'stop').catch((error: Error) => {
        if (!/PID file .* does not exist|no server running/i.test(error.message)) throw error;
      });
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A handle on a server made earlier by `startPostgres` or `startStandby` (running or stopped), from its folder. */
export async function existingPostgres(
  dir: string,
  host: string,
  port: number,
  netns?: string,
): Promise<PostgresServer> {
  const bin = await postgresBinDir();
  if (!bin) throw new PostgresMissing('pg_config is not on PATH');
  return server(bin, dir, host, port, netns);
}

async function configure(dir: string, host: string, port: number, settings: Readonly<Record<string, string>>) {
  const lines = {
    listen_addresses: `'${host}'`,
    port: String(port),
    unix_socket_directories: `'${dir}'`,
    fsync: 'on',
    wal_level: 'replica',
    max_wal_senders: '10',
    ...settings,
  };
  const text = Object.entries(lines)
    .map(([key, value]) => `${key} = ${value}\n`)
    .join('');
  await appendFile(join(dir, 'data', 'postgresql.auto.conf'), text);
}

/** initdb + start: a fresh primary, ready to accept connections (about 2 s). */
export async function startPostgres(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const bin = await postgresBinDir();
  if (!bin) throw new PostgresMissing('pg_config is not on PATH');
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort());
  const dir = await ownedFolder('failsafe-pg-', options.under);
  try {
    await exec(bin, 'initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync'], options.netns);
    // Trust for replication connections too: a standby on another test host connects over TCP.
    await appendFile(
      join(dir, 'data', 'pg_hba.conf'),
      'host all all 0.0.0.0/0 trust\nhost replication all 0.0.0.0/0 trust\n',
    );
    await configure(dir, host, port, options.settings ?? {});
    const started = server(bin, dir, host, port, options.netns);
    await started.start();
    return started;
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export interface StandbyOptions extends PostgresServerOptions {
  /** Its name in the primary's `synchronous_standby_names` (its `application_name`). */
  readonly name?: string;
}

/** A streaming-replication standby of `primary` (pg_basebackup -R), started and following it. */
export async function startStandby(primary: PostgresServer, options: StandbyOptions = {}): Promise<PostgresServer> {
  const bin = await postgresBinDir();
  if (!bin) throw new PostgresMissing('pg_config is not on PATH');
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort());
  const name = options.name ?? 'standby';
  const dir = await ownedFolder('failsafe-pg-standby-', options.under);
  try {
    const source = `host=${primary.host} port=${primary.port} user=postgres application_name=${name}`;
    // Named apart: its WAL stream's row can outlive it in pg_stat_replication, where it would pass for the standby.
    // A fast checkpoint: a spread one waits minutes on a primary with many dirty pages.
    const copying = `host=${primary.host} port=${primary.port} user=postgres application_name=${name}_basebackup`;
    const backup = ['-d', copying, '-D', join(dir, 'data'), '-R', '-X', 'stream', '-c', 'fast'];
    await exec(bin, 'pg_basebackup', backup, options.netns);
    await configure(dir, host, port, {
      primary_conninfo: `'${source}'`,
      ...options.settings,
    });
    const started = server(bin, dir, host, port, options.netns);
    await started.start();
    await streaming(primary, name);
    return started;
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Until the primary streams to `name` and has its first reply: before that, a synchronous standby still
 * counts as `async` (catching up, or no flush position reported yet).
 */
async function streaming(primary: PostgresServer, name: string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const query =
    "SELECT state = 'streaming' AND flush_lsn IS NOT NULL " +
    `FROM pg_stat_replication WHERE application_name = '${name}'`;
  while ((await primary.psql(query)).trim() !== 't') {
    if (performance.now() > deadline)
      throw new Error(`standby ${name} did not stream from the primary in ${timeoutMs} ms`);
    await sleep(50);
  }
}
