import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { copyStore, StoreCopyRefused, type CopyProgress } from '../application/copy-store.js';
import { connectStore } from '../event-store/connect-store.js';
import { StoreUnavailable } from '../event-store/errors.js';
import type { EventStore } from '../event-store/event-store.js';
import { describeStore, parseStoreUrl, type StoreLocation } from '../event-store/store-url.js';
import type { BackupManifest } from '../application/backup-manifest.js';
import { backupStore, restoreStore, type BackupProgress } from '../application/backup-store.js';
import {
  action,
  positiveInteger,
  say,
  storeLocation,
  type StoreFlags,
  untilSignal,
  withStoreOptions,
} from './cli-support.js';
import { progressLine } from './progress-line.js';

const PROGRESS_EVERY_MS = 1000;
const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** An AbortSignal that the first SIGINT or SIGTERM aborts, saying so on stderr. */
function stopOnSignal(command: string, what: string): AbortSignal {
  const stopping = new AbortController();
  void untilSignal().then((signal) => {
    process.stderr.write(`store ${command}: ${signal}: ${what}\n`);
    stopping.abort();
  });
  return stopping.signal;
}

/** A source is read, never created: a mistyped path must not copy an empty store. */
async function openSource(location: StoreLocation): Promise<EventStore> {
  if (location.kind === 'sqlite' && !existsSync(location.path))
    throw new StoreUnavailable(describeStore(location), 'no such file; the source of a copy is never created');
  return connectStore(location);
}

const fraction = (p: Pick<CopyProgress, 'position' | 'head'>) =>
  p.head > 0n ? Number(p.position) / Number(p.head) : 1;

/** Throttled progress on stderr, so that stdout holds only the result. */
function progressReporter() {
  const started = performance.now();
  let last = started;
  let first: { events: number; fraction: number } | undefined;
  return (progress: CopyProgress, final = false) => {
    // The first report is where this run starts (past 0 when it resumes).
    first ??= { events: progress.events, fraction: fraction(progress) };
    const now = performance.now();
    if (!final && now - last < PROGRESS_EVERY_MS) return;
    last = now;
    const line = progressLine('events copied', {
      done: progress.events,
      doneThisRun: progress.events - first.events,
      fraction: fraction(progress),
      startFraction: first.fraction,
      elapsedMs: now - started,
    });
    process.stderr.write(`store copy: ${line}\n`);
  };
}

const copyCommand = () =>
  new Command('copy')
    .description(
      'copy a whole history from one store to another: every event in $all order with its id, data, metadata ' +
        'and original time, then retention and deletions; verified event by event at the end. ' +
        'Interrupted (Ctrl-C, a crash), run it again: it resumes where it stopped',
    )
    .requiredOption('--from <url>', 'the source store: sqlite:<path>, postgres://…, esdb://… or kurrentdb://…')
    .requiredOption('--to <url>', 'the target store: empty, or holding the start of this same copy')
    .option('--batch-size <events>', 'most events per append', positiveInteger('events'), 500)
    .addHelpText(
      'after',
      '\nExample (stop `failsafe serve` first, or run the copy again after stopping it to take the rest):\n' +
        '  failsafe store copy --from sqlite:./data/failsafe.db \\\n' +
        '    --to postgres://failsafe@db1:5432,db2:5432/failsafe?target_session_attrs=read-write\n',
    )
    .action(
      action(async (flags: { from: string; to: string; batchSize: number }) => {
        const [from, to] = [parseStoreUrl(flags.from), parseStoreUrl(flags.to)];
        if (describeStore(from) === describeStore(to))
          throw new StoreCopyRefused(`--from and --to both name ${describeStore(to)}; name another target`);
        const source = await openSource(from);
        try {
          const target = await connectStore(to);
          try {
            const signal = stopOnSignal('copy', 'stopping after the append under way');
            process.stderr.write(`store copy: ${describeStore(from)} → ${describeStore(to)}\n`);
            const report = progressReporter();
            let latest: CopyProgress | undefined;
            const result = await copyStore(source, target, {
              batchSize: flags.batchSize,
              signal,
              onProgress: (progress) => {
                latest = progress;
                report(progress);
              },
            });
            if (latest) report(latest, true);
            say(
              `copied ${count(result.events, 'event')} in ${count(result.streams, 'stream')} to ${describeStore(to)} ` +
                `(${result.copied} by this run, ${result.events - result.copied} already there), ` +
                `up to position ${result.head} of the source`,
            );
            say(`  streams with retention carried over: ${result.retention}; streams deleted: ${result.deleted}`);
            say(`  verified: count, order and content match; sha256 ${result.digest}`);
          } finally {
            await target.close();
          }
        } finally {
          await source.close();
        }
      }),
    );

/** Progress of a backup or restore on stderr, at most once a second. */
function backupReporter(command: string) {
  const started = performance.now();
  let last = started;
  return (progress: BackupProgress) => {
    const now = performance.now();
    if (now - last < PROGRESS_EVERY_MS) return;
    last = now;
    const [done, total] = [progress.done, progress.total].map((n) => n?.toLocaleString('en-US'));
    const line =
      progress.phase === 'pages'
        ? `${done} of ${total} pages copied` +
          (progress.restarts ? ` (started again ${progress.restarts}× after writes, in larger steps)` : '')
        : progress.phase === 'bytes'
          ? `${done} bytes${total === undefined ? '' : ` of ${total}`} through pg_dump/pg_restore`
          : `${done} of ${total} events checked`;
    process.stderr.write(`store ${command}: ${line}\n`);
  };
}

const summary = (manifest: BackupManifest) =>
  `  ${count(manifest.events, 'event')} through position ${manifest.lastPosition}; sha256 ${manifest.digest}`;

const backupCommand = () =>
  withStoreOptions(new Command('backup'))
    .description(
      'back up the event store into a new file while `failsafe serve` goes on appending: SQLite through its ' +
        'online backup API (the file is itself a store), PostgreSQL through pg_dump from one snapshot. ' +
        'Written to <file>.partial-<pid> and renamed when complete; read back and summarised in the file',
    )
    .argument('<file>', 'the new backup file (never overwritten); an embedded store also gets <file>.archive')
    .addHelpText(
      'after',
      '\nExamples:\n  failsafe store backup --data-dir ./data backups/failsafe-2026-12-02.db\n' +
        '  failsafe store backup --store postgres://failsafe@db1:5432/failsafe backups/failsafe-2026-12-02.pgbackup\n',
    )
    .action(
      action(async (file: string, flags: StoreFlags) => {
        const source = storeLocation(flags);
        // Listening before the first line, so that a Ctrl-C from then on always cleans up.
        const signal = stopOnSignal('backup', 'stopping and removing the partial files');
        process.stderr.write(`store backup: ${describeStore(source)} → ${file}\n`);
        const { path, manifest } = await backupStore(source, file, { signal, onProgress: backupReporter('backup') });
        say(`backed up ${describeStore(source)} into ${path}`);
        say(summary(manifest));
      }),
    );

const restoreCommand = () =>
  withStoreOptions(new Command('restore'))
    .description(
      'restore a backup into an empty store of its kind: a fresh data folder (or an empty SQLite store) for ' +
        'a SQLite backup, an empty PostgreSQL database for a PostgreSQL one. The backup is checked first ' +
        '(a cut or damaged one is refused, nothing written), and what was restored is checked against it',
    )
    .argument('<file>', 'the backup file `failsafe store backup` wrote')
    .addHelpText(
      'after',
      '\nExamples:\n  failsafe store restore backups/failsafe-2026-12-02.db --data-dir ./data-restored\n' +
        '  failsafe store restore backups/failsafe-2026-12-02.pgbackup --store postgres://failsafe@db1:5432/restored\n',
    )
    .action(
      action(async (file: string, flags: StoreFlags) => {
        const target = storeLocation(flags);
        process.stderr.write(`store restore: ${file} → ${describeStore(target)}\n`);
        const { manifest } = await restoreStore(file, target, { onProgress: backupReporter('restore') });
        say(`restored the ${manifest.source} backup taken at ${manifest.takenAt} into ${describeStore(target)}`);
        say(summary(manifest));
        say('  verified: count, last position and sha256 match the backup');
      }),
    );

export const storeCommand = (): Command =>
  new Command('store')
    .description('the event store: copy a history between stores, back it up, restore a backup')
    .addCommand(copyCommand())
    .addCommand(backupCommand())
    .addCommand(restoreCommand());
