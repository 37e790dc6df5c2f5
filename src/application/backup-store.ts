import { createHash } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { connectStore } from '../event-store/connect-store.js';
import type { EventStore } from '../event-store/event-store.js';
import { dumpPostgresStore, postgresStoreSize, restorePostgresDump } from '../event-store/postgres-backup.js';
import { fsyncPath, SegmentArchive } from '../event-store/segment-archive.js';
import {
  copyDatabasePages,
  integrityProblems,
  readBackupManifest,
  removeBackupManifest,
  writeBackupManifest,
} from '../event-store/sqlite-backup.js';
import { describeStore, type StoreLocation } from '../event-store/store-url.js';
import { VERSION } from '../package-version.js';
import { type Clock, systemClock } from '../runtime/clock.js';
import { BackupCorrupt, BackupInterrupted, BackupRefused, RestoreMismatch } from './backup-errors.js';
import { type BackupManifest, backupManifestSchema, POSTGRES_BACKUP_MAGIC } from './backup-manifest.js';
import { type HistorySummary, summariseHistory } from './history-digest.js';

export type BackupProgress =
  | { readonly phase: 'pages'; readonly done: number; readonly total: number; readonly restarts: number }
  | { readonly phase: 'bytes'; readonly done: number; readonly total?: number }
  | { readonly phase: 'events'; readonly done: number; readonly total: number };

export interface BackupOptions {
  /** Checked at every step; the partial files are removed and BackupInterrupted thrown. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: BackupProgress) => void;
  /** Dates the backup's manifest (default the system clock). */
  readonly clock?: Clock;
}

const SQLITE_MAGIC = 'SQLite format 3\0';

const removeAll = (path: string) => {
  for (const suffix of ['', '.archive', '.dump', '-wal', '-shm', '-journal'])
    rmSync(`${path}${suffix}`, { recursive: true, force: true });
};

/** Renames the finished work into place: its archive first, the file last, since the file says "complete". */
function publish(partial: string, path: string): void {
  if (existsSync(`${partial}.archive`)) renameSync(`${partial}.archive`, `${path}.archive`);
  fsyncPath(partial);
  renameSync(partial, path);
  fsyncPath(dirname(path));
}

async function withStoreAt<T>(location: StoreLocation, work: (store: EventStore) => Promise<T>): Promise<T> {
  const store = await connectStore(location);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

const summarise = (location: StoreLocation, options: BackupOptions, total: bigint, head?: bigint) =>
  withStoreAt(location, (store) =>
    summariseHistory(store, {
      ...(head !== undefined && { head }),
      onEvent: (done) => {
        if (done % 1000 === 0) {
          options.onProgress?.({ phase: 'events', done, total: Number(total) });
          if (options.signal?.aborted) throw new BackupInterrupted('the backup');
        }
      },
    }),
  );

const manifestOf = (
  source: BackupManifest['source'],
  summary: HistorySummary,
  options: BackupOptions,
): BackupManifest => ({
  format: 'failsafe-backup',
  version: 1,
  source,
  takenAt: (options.clock ?? systemClock).now().toISOString(),
  failsafeVersion: VERSION,
  events: summary.events,
  lastPosition: summary.lastPosition.toString(),
  digest: summary.digest,
});

/** The embedded store: SQLite's online backup, the archive segments it needs, the manifest inside. */
async function backupSqlite(sourcePath: string, partial: string, options: BackupOptions): Promise<BackupManifest> {
  // Refuses another application's database or a newer Failsafe's before anything is copied.
  await withStoreAt({ kind: 'sqlite', path: sourcePath }, async () => undefined);
  const head = await copyDatabasePages(sourcePath, partial, (pages) => {
    if (options.signal?.aborted) throw new BackupInterrupted('the backup');
    options.onProgress?.({ phase: 'pages', done: pages.copied, total: pages.total, restarts: pages.restarts });
  });
  SegmentArchive.nextTo(sourcePath).copyUpTo(head, `${partial}.archive`);
  const summary = await summarise({ kind: 'sqlite', path: partial }, options, head);
  const manifest = manifestOf('sqlite', summary, options);
  writeBackupManifest(partial, JSON.stringify(manifest));
  return manifest;
}

/** PostgreSQL: pg_dump from an exported snapshot, after one line of manifest, summarised up to its head. */
async function backupPostgres(url: string, partial: string, options: BackupOptions): Promise<BackupManifest> {
  const location: StoreLocation = { kind: 'postgres', url };
  // One clear line for a server that cannot be reached or a database of another application.
  await withStoreAt(location, async () => undefined);
  const dumpFile = `${partial}.dump`;
  const dump = await dumpPostgresStore(url, dumpFile, {
    ...(options.signal && { signal: options.signal }),
    onBytes: (done) => options.onProgress?.({ phase: 'bytes', done }),
  }).catch((error: unknown) => {
    // Ctrl-C reaches pg_dump too (or the signal stops it): its exit is the interruption.
    throw options.signal?.aborted ? new BackupInterrupted('the backup') : error;
  });
  if (options.signal?.aborted) throw new BackupInterrupted('the backup');
  // Positions up to the snapshot's head never change (a trim moves events to the archive the history reads).
  const summary = await summarise(location, options, dump.head, dump.head);
  if (summary.lastPosition !== dump.head)
    throw new BackupRefused(
      `the history read ends at position ${summary.lastPosition}, the dump's head is ${dump.head}: take it again`,
    );
  const manifest = { ...manifestOf('postgres', summary, options), dump: { bytes: dump.bytes, sha256: dump.sha256 } };
  const out = createWriteStream(partial);
  out.write(`${POSTGRES_BACKUP_MAGIC}${JSON.stringify(manifest)}\n`);
  await pipeline(createReadStream(dumpFile), out);
  rmSync(dumpFile);
  return manifest;
}

/**
 * Backs up the store at `source` into the new file `file` while the store is in use. The work goes
 * to `<file>.partial-<pid>` and is renamed to `file` only once complete, manifest included: a file
 * under the name asked for is always a whole backup.
 */
export async function backupStore(
  source: StoreLocation,
  file: string,
  options: BackupOptions = {},
): Promise<{ readonly path: string; readonly manifest: BackupManifest }> {
  const path = resolve(file);
  if (existsSync(path) || existsSync(`${path}.archive`))
    throw new BackupRefused(`${path} exists already; name a new file (a backup never overwrites one)`);
  if (!existsSync(dirname(path)))
    throw new BackupRefused(`the folder ${dirname(path)} does not exist; create it first`);
  if (source.kind === 'eventstore')
    throw new BackupRefused(
      `${describeStore(source)} is EventStoreDB / KurrentDB: back it up with its own tools, ` +
        'or `failsafe store copy` it into sqlite:<file>',
    );
  if (source.kind === 'sqlite' && !existsSync(source.path))
    throw new BackupRefused(`sqlite:${source.path}: no such store file; name the store with --data-dir or --store`);
  const partial = `${path}.partial-${process.pid}`;
  try {
    const manifest =
      source.kind === 'sqlite'
        ? await backupSqlite(source.path, partial, options)
        : await backupPostgres(source.url, partial, options);
    if (options.signal?.aborted) throw new BackupInterrupted('the backup');
    publish(partial, path);
    return { path, manifest };
  } catch (error) {
    removeAll(partial);
    throw error;
  }
}

function readHead(path: string, bytes: number): Buffer {
  const buffer = Buffer.alloc(bytes);
  const fd = openSync(path, 'r');
  try {
    return buffer.subarray(0, readSync(fd, buffer, 0, bytes, 0));
  } finally {
    closeSync(fd);
  }
}

function parseManifest(path: string, text: string | undefined): BackupManifest {
  if (text === undefined)
    throw new BackupCorrupt(path, 'a SQLite file without a backup manifest: a store, not a backup — `store copy` it');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BackupCorrupt(path, 'its manifest is not JSON');
  }
  const parsed = backupManifestSchema.safeParse(json);
  if (!parsed.success)
    throw new BackupCorrupt(
      path,
      `its manifest is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}

/** Refuses a restored history that is not the one the manifest describes. */
function check(summary: HistorySummary, manifest: BackupManifest, onMismatch: (detail: string) => Error): void {
  const wanted = `${manifest.events} events through position ${manifest.lastPosition}, sha256 ${manifest.digest}`;
  const got = `${summary.events} events through position ${summary.lastPosition}, sha256 ${summary.digest}`;
  if (wanted !== got) throw onMismatch(`the backup recorded ${wanted}, but ${got} was restored`);
}

async function restoreSqlite(path: string, target: string, options: BackupOptions): Promise<BackupManifest> {
  const problems = integrityProblems(path);
  if (problems.length > 0) throw new BackupCorrupt(path, `SQLite finds it damaged: ${problems.join('; ')}`);
  const manifest = parseManifest(path, readBackupManifest(path));
  if (existsSync(target)) {
    const head = await withStoreAt({ kind: 'sqlite', path: target }, (store) => store.headPosition());
    if (head > 0n || existsSync(`${target}.archive`))
      throw new BackupRefused(
        `sqlite:${target} is not empty (events up to position ${head}); restore into a fresh data folder ` +
          '(--data-dir <new folder>), or move the store aside first',
      );
  }
  // A folder made here goes again if the restore fails: a refused backup leaves nothing behind.
  const made = mkdirSync(dirname(target), { recursive: true });
  const partial = `${target}.restoring-${process.pid}`;
  try {
    const head = await copyDatabasePages(path, partial, (pages) =>
      options.onProgress?.({ phase: 'pages', done: pages.copied, total: pages.total, restarts: pages.restarts }),
    );
    removeBackupManifest(partial);
    new SegmentArchive(`${path}.archive`).copyUpTo(head, `${partial}.archive`);
    const summary = await summarise({ kind: 'sqlite', path: partial }, options, BigInt(manifest.lastPosition));
    check(summary, manifest, (detail) => new BackupCorrupt(path, detail));
    // An empty store there is replaced (its WAL goes with it: the copy is in rollback-journal mode).
    removeAll(target);
    publish(partial, target);
    return manifest;
  } catch (error) {
    removeAll(partial);
    if (made) rmSync(made, { recursive: true, force: true });
    throw error;
  }
}

/** Checks the dump's size and checksum before anything is written: a cut or damaged file is refused whole. */
async function checkDump(path: string, dump: { bytes: number; sha256: string }, offset: number): Promise<void> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { start: offset }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  const sha256 = hash.digest('hex');
  if (bytes !== dump.bytes || sha256 !== dump.sha256)
    throw new BackupCorrupt(
      path,
      `its dump is ${bytes} bytes with sha256 ${sha256}, the manifest says ${dump.bytes} bytes with sha256 ` +
        `${dump.sha256}${bytes < dump.bytes ? ' (truncated)' : ''}`,
    );
}

async function restorePostgres(path: string, url: string, options: BackupOptions): Promise<BackupManifest> {
  const head = readHead(path, 64 * 1024);
  const end = head.indexOf('\n');
  if (end < 0) throw new BackupCorrupt(path, 'its manifest line is cut short');
  const manifest = parseManifest(path, head.subarray(POSTGRES_BACKUP_MAGIC.length, end).toString('utf8'));
  if (!manifest.dump) throw new BackupCorrupt(path, 'its manifest names no dump');
  await checkDump(path, manifest.dump, end + 1);
  const size = await postgresStoreSize(url);
  if (size > 0n)
    throw new BackupRefused(
      `${describeStore({ kind: 'postgres', url })} is not empty (${size} events and streams); ` +
        'restore into a new database (createdb) or an empty one',
    );
  const total = manifest.dump.bytes;
  await restorePostgresDump(url, path, end + 1, (done) => options.onProgress?.({ phase: 'bytes', done, total }));
  const summary = await summarise({ kind: 'postgres', url }, options, BigInt(manifest.lastPosition));
  check(summary, manifest, (detail) => new RestoreMismatch(detail));
  return manifest;
}

/**
 * Restores a backup into an empty store of its own kind (a fresh data folder for an embedded store's
 * backup, an empty PostgreSQL database for a PostgreSQL one), after checking the backup whole, then
 * checks that what was written has the backup's count, last position and digest.
 */
export async function restoreStore(
  file: string,
  target: StoreLocation,
  options: BackupOptions = {},
): Promise<{ readonly path: string; readonly manifest: BackupManifest }> {
  const path = resolve(file);
  if (!existsSync(path)) throw new BackupRefused(`${path}: no such backup file`);
  const magic = readHead(path, 64).toString('latin1');
  const kind = magic.startsWith(SQLITE_MAGIC) ? 'sqlite' : magic.startsWith(POSTGRES_BACKUP_MAGIC) ? 'postgres' : '';
  if (!kind) throw new BackupCorrupt(path, 'not a Failsafe backup (neither a SQLite file nor a PostgreSQL backup)');
  if (target.kind !== kind)
    throw new BackupRefused(
      `${path} is a backup of a ${kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'} store and restores into one ` +
        `(not ${describeStore(target)}); restore it there, then \`failsafe store copy\` it to another kind of store`,
    );
  if (target.kind === 'sqlite') return { path, manifest: await restoreSqlite(path, target.path, options) };
  if (target.kind === 'postgres') return { path, manifest: await restorePostgres(path, target.url, options) };
  throw new BackupRefused(`${describeStore(target)}: restore into SQLite or PostgreSQL`);
}
