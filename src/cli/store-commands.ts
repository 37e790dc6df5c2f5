import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { copyStore, StoreCopyRefused, type CopyProgress } from '../application/copy-store.js';
import { connectStore, StoreUnavailable } from '../event-store/connect-store.js';
import type { EventStore } from '../event-store/event-store.js';
import { describeStore, parseStoreUrl, type StoreLocation } from '../event-store/store-url.js';
import { action, positiveInteger, say, untilSignal } from './cli-support.js';
import { progressLine } from './progress-line.js';

const PROGRESS_EVERY_MS = 1000;

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
            const stopping = new AbortController();
            void untilSignal().then((signal) => {
              process.stderr.write(`store copy: ${signal}: stopping after the append under way\n`);
              stopping.abort();
            });
            process.stderr.write(`store copy: ${describeStore(from)} → ${describeStore(to)}\n`);
            const report = progressReporter();
            let latest: CopyProgress | undefined;
            const result = await copyStore(source, target, {
              batchSize: flags.batchSize,
              signal: stopping.signal,
              onProgress: (progress) => {
                latest = progress;
                report(progress);
              },
            });
            if (latest) report(latest, true);
            say(
              `copied ${result.events} events in ${result.streams} streams to ${describeStore(to)} ` +
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

export const storeCommand = (): Command =>
  new Command('store').description('the event store: copy a history between stores').addCommand(copyCommand());
