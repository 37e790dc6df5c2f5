import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { EventStoreError, StoreUnavailable } from './errors.js';
import { PostgresEventStore } from './postgres-event-store.js';
import { describeStore } from './store-url.js';

const run = promisify(execFile);

/** pg_dump or pg_restore failed, or is not installed; what it said is in the message. */
export class PostgresToolFailed extends EventStoreError {
  readonly code = 'POSTGRES_TOOL_FAILED';
  constructor(tool: string, detail: string) {
    super(`PostgresToolFailed: ${tool} ${detail}`);
  }
}

/** The client tools of the server's own version when `pg_config` names them, else those on the PATH. */
async function clientTool(name: 'pg_dump' | 'pg_restore'): Promise<string> {
  try {
    return join((await run('pg_config', ['--bindir'])).stdout.trim(), name);
  } catch {
    return name;
  }
}

/** libpq's `--dbname` without the password, which goes in the environment: a command line shows in `ps`. */
function connection(url: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const password = /^([a-z]+:\/\/[^:/@]*):([^@/]*)@/i.exec(url);
  if (!password) return { dbname: url, env: process.env };
  return {
    dbname: `${password[1]}@${url.slice(password[0].length)}`,
    env: { ...process.env, PGPASSWORD: decodeURIComponent(password[2]!) },
  };
}

/** Runs a tool to its end; its stderr becomes the error's detail. */
function finished(tool: string, child: ReturnType<typeof spawn>): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.on('error', (error) =>
      reject(new PostgresToolFailed(tool, `could not start (${error.message}); install the PostgreSQL client tools`)),
    );
    child.on('close', (code, signal) =>
      code === 0
        ? resolve()
        : reject(new PostgresToolFailed(tool, `exited ${signal ?? code}: ${stderr.trim().replace(/\s*\n\s*/g, ' ')}`)),
    );
  });
}

/** Counts and hashes what passes through. */
function tap(onBytes: (bytes: number) => void) {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      onBytes(bytes);
      done(null, chunk);
    },
  });
  return { stream, result: () => ({ bytes, sha256: hash.digest('hex') }) };
}

export interface DumpResult {
  /** The store's last position in the dump's snapshot. */
  readonly head: bigint;
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * Dumps the Failsafe tables (events, archive, streams, head, schema version) with `pg_dump` in its
 * custom format into `to`. The snapshot is exported from a REPEATABLE READ transaction held open
 * until pg_dump ends, and pg_dump reads through it: the head read here is exactly the dump's.
 */
export async function dumpPostgresStore(
  url: string,
  to: string,
  options: { signal?: AbortSignal; onBytes?: (bytes: number) => void } = {},
): Promise<DumpResult> {
  const sql = PostgresEventStore.connect(url, { max: 1 });
  try {
    const tx = await sql.reserve();
    try {
      await tx`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`;
      const [row] = await tx<{ snapshot: string; head: bigint }[]>`
        SELECT pg_export_snapshot() AS snapshot, (SELECT position FROM failsafe_head) AS head`;
      const { dbname, env } = connection(url);
      const child = spawn(
        await clientTool('pg_dump'),
        [
          `--dbname=${dbname}`,
          '--format=custom',
          `--snapshot=${row!.snapshot}`,
          '--table=failsafe_*',
          '--no-owner',
          '-x',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env },
      );
      const stop = () => child.kill('SIGTERM');
      options.signal?.addEventListener('abort', stop, { once: true });
      const counted = tap(options.onBytes ?? (() => undefined));
      try {
        await Promise.all([pipeline(child.stdout!, counted.stream, createWriteStream(to)), finished('pg_dump', child)]);
      } finally {
        options.signal?.removeEventListener('abort', stop);
      }
      await tx`COMMIT`;
      return { head: row!.head, ...counted.result() };
    } finally {
      tx.release();
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Events, archived events and streams in the Failsafe tables at `url`: 0 for a database without them. */
export async function postgresStoreSize(url: string): Promise<bigint> {
  const sql = PostgresEventStore.connect(url, { max: 1, connect_timeout: 10 });
  try {
    let size = 0n;
    for (const table of ['failsafe_events', 'failsafe_archived_events', 'failsafe_streams']) {
      const [found] = await sql<{ exists: boolean }[]>`SELECT to_regclass(${table}) IS NOT NULL AS exists`;
      if (found!.exists) size += (await sql<{ n: bigint }[]>`SELECT count(*) AS n FROM ${sql(table)}`)[0]!.n;
    }
    return size;
  } catch (error) {
    const detail = (error as Error).message.replace(/\s*\n\s*/g, ' ');
    throw new StoreUnavailable(describeStore({ kind: 'postgres', url }), detail);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Loads a dump made by `dumpPostgresStore` (the bytes of `file` from `offset`) into the database at
 * `url` with `pg_restore`, in one transaction: it replaces Failsafe tables that are there (check
 * first that they are empty), and a failure leaves the database as it was.
 */
export async function restorePostgresDump(
  url: string,
  file: string,
  offset: number,
  onBytes: (bytes: number) => void = () => undefined,
): Promise<void> {
  const { dbname, env } = connection(url);
  const child = spawn(
    await clientTool('pg_restore'),
    [`--dbname=${dbname}`, '--single-transaction', '--exit-on-error', '--clean', '--if-exists', '--no-owner'],
    { stdio: ['pipe', 'ignore', 'pipe'], env },
  );
  const counted = tap(onBytes);
  await Promise.all([
    pipeline(createReadStream(file, { start: offset }), counted.stream, child.stdin!),
    finished('pg_restore', child),
  ]);
}
