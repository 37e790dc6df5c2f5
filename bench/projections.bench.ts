/**
 * Projection benchmark: the health-window projection over recorded samples, and a full replay of
 * a history into every read model (and the policy's fold), each beside the event store's own
 * readAll speed in the same run, so the projections' overhead shows as a ratio.
 * Run: npm run bench:projections -- [--quick] [--skip-policy] [--events N] [--services N]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { healthWindowsProjection } from '../projections/health-windows.js';
import { storeHistory } from '../src/audit/store-history.js';
import { verifyDecisions } from '../src/audit/verify-decisions.js';
import { rollbackDecisionsProjection } from '../src/policy/rollback-decisions.js';
import { SqliteEventStore } from '../src/event-store/sqlite-event-store.js';
import { decodeStored, type TypedRecordedEvent } from '../src/events/catalogue.js';
import { defaultRollbackPolicy, retainSecondsFor } from '../src/policy/rollback-policy.js';
import { fmt, loadAverage, median, progress, reportQuick, timed, type QuickCheck } from './bench-support.js';
import { writeHistory } from './bench-history.js';

const HELP = `Usage: npm run bench:projections -- [options]

  --events <n>     events in the replayed history (default 1000000; 95 % health samples)
  --services <n>   services the samples spread over (default 50)
  --skip-policy    leave out the replay into the policy's fold (the longest part)
  --threads        also a full \`audit verify\` of the history in one thread and in two (split by service),
                   three of each, alternating: medians and their ratio. The samples are then written to
                   their services' health streams, as Failsafe does (else to one stream per thousand
                   events), one append per stream in each thousand: slower to write
  --quick          50000 events by default, seconds not minutes; ends with a QUICK line checking the full
                   replay (aim 0.8 of readAll's speed) and the replay into the policy's fold (aim 0.41);
                   exits 3 when either is under half its aim
  --help           show this help
`;
const { values: args } = parseArgs({
  options: {
    events: { type: 'string' },
    services: { type: 'string', default: '50' },
    'skip-policy': { type: 'boolean', default: false },
    threads: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const total = Number(args.events ?? (args.quick ? 50_000 : 1_000_000));
const services = Number(args.services);
if (!Number.isInteger(total) || total <= 0 || !Number.isInteger(services) || services <= 0) {
  process.stderr.write(`--events and --services must be positive whole numbers\n${HELP}`);
  process.exit(2);
}

const root = mkdtempSync(join(tmpdir(), 'failsafe-bench-projections-'));
try {
  console.log(
    `Failsafe projections benchmark — ${new Date().toISOString()}, node ${process.version}, ${cpus().length} cores`,
  );
  const store = SqliteEventStore.open({ path: join(root, 'failsafe.db') });
  progress(`writing ${fmt(total)} events over ${services} services`);
  // A split verification reads other services' health streams undecoded: the samples go to theirs.
  await writeHistory(store, total, {
    services,
    healthStreams: args.threads,
    onProgress: (written) => progress(`${fmt(written)} written`),
  });

  progress('readAll (the store alone)');
  let count = 0;
  const readSeconds = await timed(async () => {
    for await (const _ of store.readAll()) count += 1;
  });
  const readRate = count / readSeconds;

  progress('decoding the samples once, then the health-window projection over them');
  const samples: TypedRecordedEvent[] = [];
  for await (const recorded of store.readAll({ maxCount: Math.min(total, 200_000) })) {
    const event = decodeStored(recorded);
    if (event.type === 'HealthSampleRecorded') samples.push(event);
  }
  const windows = healthWindowsProjection(retainSecondsFor(defaultRollbackPolicy));
  const windowRates: number[] = [];
  for (let rep = 0; rep < 3; rep += 1) {
    const state = windows.initialState;
    windowRates.push(
      samples.length /
        (await timed(() => {
          for (const e of samples) windows.apply(state, e);
        })),
    );
  }
  windowRates.sort((a, b) => a - b);
  const windowRate = windowRates[1]!;
  samples.length = 0;

  progress('full replay: readAll + decode + every read model, in a process of its own');
  const worker = fileURLToPath(new URL('./replay-worker.ts', import.meta.url));
  const replayOnce = (): Replay =>
    JSON.parse(
      execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', worker, store.path], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .at(-1)!,
    ) as Replay;
  // A quick run's replay lasts under a second: the median of three keeps one slow start from failing CI.
  const replays = Array.from({ length: args.quick ? 3 : 1 }, replayOnce).sort(
    (a, b) => a.seconds / a.readSeconds - b.seconds / b.readSeconds,
  );
  const replay = replays[replays.length >> 1]!;
  if (replay.events !== total) throw new Error(`the replay read ${replay.events} of ${total} events`);

  const policy = rollbackDecisionsProjection(defaultRollbackPolicy);
  const policyState = policy.initialState;
  let decisions = 0;
  const policySeconds = args['skip-policy']
    ? Number.NaN
    : await timed(async () => {
        progress("full replay into the policy's fold (read models + rule evaluation after each event)");
        for await (const recorded of store.readAll()) {
          policy.apply(policyState, decodeStored(recorded));
          decisions += policyState.decisions.length;
        }
      });
  const verifySeconds: Record<1 | 2, number[]> = { 1: [], 2: [] };
  if (args.threads) {
    const history = storeHistory(store);
    const location = { kind: 'sqlite' as const, path: store.path };
    let reports = '';
    for (let round = 0; round < 3; round += 1)
      for (const threads of round % 2 === 0 ? ([1, 2] as const) : ([2, 1] as const)) {
        progress(`full audit verify in ${threads} thread${threads > 1 ? 's' : ''}, round ${round + 1} of 3`);
        let report = '';
        verifySeconds[threads].push(
          await timed(async () => {
            const { eventsThisRun: _, ...rest } = await verifyDecisions(history, defaultRollbackPolicy, {
              threads,
              store: location,
            });
            report = JSON.stringify(rest);
          }),
        );
        if (reports && report !== reports) throw new Error('the runs in one and two threads reported differently');
        reports = report;
      }
  }
  await store.close();

  const rows: [string, string, string][] = [
    ['store readAll (events/s)', fmt(readRate), ''],
    ['health-window projection (samples/s, decoded, median of 3)', fmt(windowRate), 'aim >= 200,000'],
    [
      `full replay into all read models (s, ${fmt(replay.events)} events)`,
      fmt(replay.seconds, 1),
      `${fmt(replay.events / replay.seconds)} events/s = ` +
        `${fmt((replay.readSeconds / replay.seconds) * 100)} % of readAll in the same process`,
    ],
    ['full replay peak resident memory (MB)', fmt(replay.peakRssBytes / 2 ** 20), ''],
    // The peak is mostly garbage not yet collected: what the read models keep is this much of it.
    ['read models held after a collection (MB)', fmt(replay.readModelBytes / 2 ** 20), ''],
  ];
  if (!args['skip-policy'])
    rows.push([
      'replay into the policy fold (s)',
      fmt(policySeconds, 1),
      `${fmt(total / policySeconds)} events/s = ` +
        `${fmt((total / policySeconds / readRate) * 100)} % of readAll; ${decisions} decisions`,
    ]);
  if (args.threads) {
    const [one, two] = [median(verifySeconds[1]), median(verifySeconds[2])];
    const each = (threads: 1 | 2) => verifySeconds[threads].map((x) => x.toFixed(1)).join(', ');
    rows.push(
      [`full audit verify, 1 thread (s, median of 3: ${each(1)})`, fmt(one, 1), `${fmt(total / one)} events/s`],
      [`full audit verify, 2 threads (s, median of 3: ${each(2)})`, fmt(two, 1), `${fmt(total / two)} events/s`],
      ['full audit verify, 2 threads / 1 thread (time)', fmt(two / one, 2), `load ${loadAverage()}`],
    );
  }
  console.log('');
  const width = Math.max(...rows.map((r) => r[0].length));
  for (const [measure, value, note] of rows) console.log(`${measure.padEnd(width)}  ${value.padStart(12)}  ${note}`);
  if (args.quick) {
    rmSync(root, { recursive: true, force: true });
    const fold = args['skip-policy'] ? [] : [policyFoldCheck(total / policySeconds, readRate)];
    reportQuick([replayAllCheck(replay), ...fold]);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}

/**
 * The replay into the policy's fold (what `audit verify` does: read, decode, fold, evaluate) as a
 * share of the store's own readAll speed. The aim is the issue's, 1 M events in 10 s (100,000
 * events/s), over readAll's 242,000 events/s measured on 2026-11-30: about 0.41.
 */
function policyFoldCheck(foldRate: number, readRate: number): QuickCheck {
  return { name: 'replay into the policy fold / readAll', value: foldRate / readRate, aim: 0.41, higherIsBetter: true };
}

/** What the replay worker reports: the replay, and the store read alone just before it in the same process. */
interface Replay {
  readonly events: number;
  readonly seconds: number;
  readonly readSeconds: number;
  /** The heap the read models hold once the replay's garbage is collected. */
  readonly readModelBytes: number;
  readonly peakRssBytes: number;
}

/**
 * The full replay into every read model as a share of the speed of readAll in the same process:
 * 5 s for 1 M events is about 0.8 of the 242,000 events/s readAll did on 2026-11-30.
 */
function replayAllCheck(replay: Replay): QuickCheck {
  return {
    name: 'full replay into all read models / readAll',
    value: replay.readSeconds / replay.seconds,
    aim: 0.8,
    higherIsBetter: true,
  };
}
