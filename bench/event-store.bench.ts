/**
 * Event store benchmark: the SQLite adapter beside a bare better-sqlite3 loop doing the same
 * work in the same run, on the same data (see bare-event-log.ts for what the bare loop includes
 * and excludes, i.e. what the ratio prices).
 * Run: npm run bench:event-store -- [--quick] [--events N] [--single N] [--batch-size N] [--batched N] [--reps N]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { NewEvent } from '../src/event-store/event-store.js';
import { SqliteEventStore } from '../src/event-store/sqlite-event-store.js';
import { decodeEvent, decodeStored } from '../src/events/catalogue.js';
import { BareEventLog } from './bare-event-log.js';
import {
  fmt,
  loadAverage,
  median,
  percentile,
  printTable,
  progress,
  timed,
  type Row,
  writeResults,
  positiveOptions,
  reportQuick,
} from './bench-support.js';
import { healthSampleEvent } from './health-sample-events.js';

/** Rows per read query, for the store (its default, passed explicitly) and the bare loop alike. */
const READ_PAGE_SIZE = 1000;
/** The history is written in appends of this many events, round-robin over this many streams. */
const HISTORY_BATCH = 1000;
const HISTORY_STREAMS = 1000;

const HELP = `Usage: npm run bench:event-store -- [options]
       (npm run bench runs this benchmark, then the projections and rollback ones)

Measures the SQLite event store beside a bare better-sqlite3 loop doing the same work
on the same data, in one run, in temporary directories removed afterwards:
  1. durable single-event append (synchronous=FULL): events/s, p50 and p99 latency;
  2. batched append: events/s;
  3. readAll over a history of --events events: records only, typed as every reader of the store
     decodes (decodeStored), and validated as input from outside is (decodeEvent);
  4. a subscription catching up over that history: events/s and peak resident memory.
Append figures and read throughputs are medians of --reps runs. Prints a table and writes
the figures as JSON to bench/results/event-store-<timestamp>.json.

Options:
  --quick           small sizes (defaults 100000 events, 100 single, 5000 batched), seconds not
                    minutes; writes no JSON and ends with a QUICK line checking typed / records-only
                    readAll (aim 0.8); exits 3 when under half of it
  --events <n>      events in the read and catch-up history (default 1000000)
  --single <n>      single-event appends per run (default 2000)
  --batch-size <n>  events per batched append (default 100)
  --batched <n>     events appended in batches per run (default 50000)
  --reps <n>        runs of each measurement; medians are reported (default 3)
  --help            show this help
`;

const {
  events: historySize,
  single: singleCount,
  batched: batchedCount,
  'batch-size': batchSize,
  reps,
  quick,
} = positiveOptions(
  HELP,
  { events: 1_000_000, single: 2000, batched: 50_000, 'batch-size': 100, reps: 3 },
  { events: 100_000, single: 100, batched: 5_000, 'batch-size': 100, reps: 3 },
);

const root = mkdtempSync(join(tmpdir(), 'failsafe-bench-'));
const cleanUp = () => rmSync(root, { recursive: true, force: true });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    cleanUp();
    process.exit(130);
  });
}

let fresh = 0;
/** A new store and a new bare log, side by side in a directory of their own. */
const freshPair = () => {
  fresh += 1;
  const dir = join(root, `run-${fresh}`);
  mkdirSync(dir);
  return {
    store: SqliteEventStore.open({ path: join(dir, 'failsafe.db'), readPageSize: READ_PAGE_SIZE }),
    bare: new BareEventLog(join(dir, 'bare.db')),
    barePath: join(dir, 'bare.db'),
  };
};
const generate = (count: number, streams: number): NewEvent[] =>
  Array.from({ length: count }, (_, n) => healthSampleEvent(n % streams, n));
/**
 * Times one operation on each side, alternating which goes first, and returns both durations in
 * ms. Interleaving op by op (rather than a whole loop on one side, then on the other) means both
 * sides see the same disk: fsync latency on a shared virtual disk drifts (runs a minute apart have
 * differed by 2x when other work was running).
 */
async function interleaved(op: number, ours: () => Promise<unknown>, bare: () => void): Promise<[number, number]> {
  let oursMs = 0;
  let bareMs = 0;
  const timeOurs = async () => {
    const start = performance.now();
    await ours();
    oursMs = performance.now() - start;
  };
  const timeBare = () => {
    const start = performance.now();
    bare();
    bareMs = performance.now() - start;
  };
  if (op % 2 === 0) {
    await timeOurs();
    timeBare();
  } else {
    timeBare();
    await timeOurs();
  }
  return [oursMs, bareMs];
}
const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
/**
 * The store's promises resolve at once, so the loops below would never let Node handle a signal;
 * a turn of the event loop now and then lets Ctrl-C stop the run and remove its files.
 */
const letSignalsIn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Figure {
  ours: number;
  bare: number | null;
  unit: string;
  /** ours / bare */
  ratio: number | null;
  aim?: string;
  aimMet?: boolean;
  runs?: { ours: number[]; bare: number[] };
}
const figures: Record<string, Figure> = {};
const rows: Row[] = [];
interface Aim {
  readonly text: string;
  readonly met: boolean;
}
const aimCell = (aim?: Aim) => (aim ? `${aim.text}: ${aim.met ? 'met' : 'MISSED'}` : '');
function record(
  measure: string,
  unit: string,
  runs: { ours: number[]; bare: number[] },
  options: { digits?: number; aim?: (ours: number, bare: number) => Aim } = {},
): void {
  const ours = median(runs.ours);
  const bare = median(runs.bare);
  const aim = options.aim?.(ours, bare);
  figures[measure] = { ours, bare, unit, ratio: ours / bare, ...(aim && { aim: aim.text, aimMet: aim.met }), runs };
  rows.push({
    measure: `${measure} (${unit})`,
    ours: fmt(ours, options.digits),
    bare: fmt(bare, options.digits),
    ratio: `${fmt((ours / bare) * 100)} %`,
    aim: aimCell(aim),
  });
}

const startedAt = new Date();
const loadAtStart = loadAverage();
try {
  console.log(
    `Failsafe event store benchmark: ${startedAt.toISOString()}, node ${process.version}, ${cpus().length} cores, ` +
      `load average ${loadAtStart}`,
  );
  console.log(`command: ${process.argv.slice(2).join(' ') || '(defaults)'}`);
  console.log('ratio = failsafe / bare loop: below 100 % is slower for throughputs, faster for latencies\n');

  // 1. Durable single-event append: one event per append, one transaction (and fsync) each,
  // the two sides interleaved append by append.
  progress(`durable single-event append: ${fmt(singleCount)} appends per side x ${reps} runs`);
  const single = { ours: [] as number[], bare: [] as number[] };
  const p50 = { ours: [] as number[], bare: [] as number[] };
  const p99 = { ours: [] as number[], bare: [] as number[] };
  for (let run = 0; run < reps; run += 1) {
    const { store, bare } = freshPair();
    const events = generate(singleCount, 10);
    const ours: number[] = [];
    const theirs: number[] = [];
    for (const [n, event] of events.entries()) {
      const stream = `health-svc-${n % 10}`;
      const [o, b] = await interleaved(
        n + run,
        () => store.append(stream, [event], 'any'),
        () => bare.append(stream, [event]),
      );
      ours.push(o);
      theirs.push(b);
      if (n % 100 === 99) await letSignalsIn();
    }
    single.ours.push(singleCount / (sum(ours) / 1000));
    single.bare.push(singleCount / (sum(theirs) / 1000));
    p50.ours.push(percentile(ours, 50));
    p50.bare.push(percentile(theirs, 50));
    p99.ours.push(percentile(ours, 99));
    p99.bare.push(percentile(theirs, 99));
    await store.close();
    bare.close();
  }
  record('single-event append', 'events/s', single);
  record('single-event append p50', 'ms', p50, { digits: 3 });
  record('single-event append p99', 'ms', p99, { digits: 3 });

  // 2. Batched append: batchSize events per append, one transaction each, over 100 streams,
  // the two sides interleaved batch by batch.
  progress(`batched append: ${fmt(batchedCount)} events in batches of ${batchSize} per side x ${reps} runs`);
  const batched = { ours: [] as number[], bare: [] as number[] };
  for (let run = 0; run < reps; run += 1) {
    const { store, bare } = freshPair();
    const events = generate(batchedCount, 100);
    const batches = Array.from({ length: Math.ceil(batchedCount / batchSize) }, (_, b) =>
      events.slice(b * batchSize, (b + 1) * batchSize),
    );
    let oursMs = 0;
    let bareMs = 0;
    for (const [b, batch] of batches.entries()) {
      const stream = `health-svc-${b % 100}`;
      const [o, t] = await interleaved(
        b + run,
        () => store.append(stream, batch, 'any'),
        () => bare.append(stream, batch),
      );
      oursMs += o;
      bareMs += t;
      if (b % 10 === 9) await letSignalsIn();
    }
    batched.ours.push(batchedCount / (oursMs / 1000));
    batched.bare.push(batchedCount / (bareMs / 1000));
    await store.close();
    bare.close();
  }
  record(`batched append, ${batchSize}/append`, 'events/s', batched, {
    aim: (ours, bare) => ({ text: '>= 70 % of bare', met: ours >= 0.7 * bare }),
  });

  // The history for 3 and 4, written to both sides batch by batch (interleaved), timed as well.
  progress(
    `writing a history of ${fmt(historySize)} events to both sides ` +
      `(${fmt(HISTORY_BATCH)} per append, over ${fmt(HISTORY_STREAMS)} streams)`,
  );
  const { store, bare, barePath } = freshPair();
  let loadOursMs = 0;
  let loadBareMs = 0;
  let lastReport = performance.now();
  for (let written = 0, b = 0; written < historySize; written += HISTORY_BATCH, b += 1) {
    const service = b % HISTORY_STREAMS;
    const batch = Array.from({ length: Math.min(HISTORY_BATCH, historySize - written) }, (_, i) =>
      healthSampleEvent(service, written + i),
    );
    const stream = `health-svc-${service}`;
    const [o, t] = await interleaved(
      b,
      () => store.append(stream, batch, 'any'),
      () => bare.append(stream, batch),
    );
    loadOursMs += o;
    loadBareMs += t;
    await letSignalsIn();
    if (performance.now() - lastReport > 5000) {
      progress(`${fmt(written + batch.length)} of ${fmt(historySize)} events written`);
      lastReport = performance.now();
    }
  }
  const loadOurs = loadOursMs / 1000;
  const loadBare = loadBareMs / 1000;
  figures[`history load, ${HISTORY_BATCH}/append`] = {
    ours: historySize / loadOurs,
    bare: historySize / loadBare,
    unit: 'events/s',
    ratio: loadBare / loadOurs,
  };
  rows.push({
    measure: `history load, ${fmt(HISTORY_BATCH)}/append (events/s)`,
    ours: fmt(historySize / loadOurs),
    bare: fmt(historySize / loadBare),
    ratio: `${fmt((loadBare / loadOurs) * 100)} %`,
    aim: '',
  });

  // 3. readAll over the history: alone (JSON-decoded records); typed as the store's readers decode
  // (decodeStored: trusted, upcast when older); and validated as input from outside (decodeEvent:
  // zod on metadata and data); beside the bare paged read.
  const readAlone = { ours: [] as number[], bare: [] as number[] };
  const readTyped = { ours: [] as number[], bare: [] as number[] };
  const readValidated = { ours: [] as number[], bare: [] as number[] };
  const readOurs = async (decode?: typeof decodeEvent): Promise<number> => {
    let count = 0;
    const seconds = await timed(async () => {
      for await (const event of store.readAll()) {
        decode?.(event);
        count += 1;
        if (count % 100_000 === 0) await letSignalsIn();
      }
    });
    if (count !== historySize) throw new Error(`readAll returned ${count} of ${historySize} events`);
    return historySize / seconds;
  };
  const readBare = (): number => {
    const start = performance.now();
    const count = bare.readAll(READ_PAGE_SIZE);
    const seconds = (performance.now() - start) / 1000;
    if (count !== historySize) throw new Error(`the bare read returned ${count} of ${historySize} rows`);
    return historySize / seconds;
  };
  for (let run = 0; run < reps; run += 1) {
    progress(`readAll over the history, run ${run + 1} of ${reps}: alone, typed, validated, bare`);
    const steps: (() => Promise<void>)[] = [
      async () => void readAlone.ours.push(await readOurs()),
      async () => void readTyped.ours.push(await readOurs(decodeStored)),
      async () => void readValidated.ours.push(await readOurs(decodeEvent)),
      async () => {
        const perSecond = readBare();
        for (const read of [readAlone, readTyped, readValidated]) read.bare.push(perSecond);
      },
    ];
    for (const step of run % 2 === 0 ? steps : steps.reverse()) await step();
  }
  const readAim = (ours: number): Aim => ({ text: '>= 100,000/s', met: ours >= 100_000 });
  record('readAll, records JSON-decoded', 'events/s', readAlone, { aim: readAim });
  const typedShare = median(readTyped.ours) / median(readAlone.ours);
  record('readAll + decodeStored (typed)', 'events/s', readTyped, {
    aim: () => ({ text: `>= 80 % of records only (${fmt(typedShare * 100)} %)`, met: typedShare >= 0.8 }),
  });
  record('readAll + decodeEvent (validated)', 'events/s', readValidated, { aim: readAim });
  const storePath = store.path;
  await store.close();
  bare.close();

  // 4. A subscription catching up from the start over the whole history, in a process of its own
  // so that its resident memory is the subscription's alone; that process then does the bare read.
  const worker = fileURLToPath(new URL('./catch-up-worker.ts', import.meta.url));
  const catchUp = { ours: [] as number[], bare: [] as number[] };
  const peaks: number[] = [];
  const baselines: number[] = [];
  for (let run = 0; run < reps; run += 1) {
    progress(`subscription catching up over the history, run ${run + 1} of ${reps} (a process of its own)`);
    const output = execFileSync(
      process.execPath,
      ['--import', 'tsx', worker, storePath, barePath, String(historySize), String(READ_PAGE_SIZE)],
      { encoding: 'utf8' },
    );
    const result = JSON.parse(output.trim().split('\n').at(-1)!) as {
      seen: number;
      seconds: number;
      baselineRssBytes: number;
      peakRssBytes: number;
      bareRead: number;
      bareSeconds: number;
    };
    if (result.seen !== historySize)
      throw new Error(`the subscription delivered ${result.seen} of ${historySize} events`);
    if (result.bareRead !== historySize)
      throw new Error(`the bare read returned ${result.bareRead} of ${historySize} rows`);
    catchUp.ours.push(historySize / result.seconds);
    catchUp.bare.push(historySize / result.bareSeconds);
    peaks.push(result.peakRssBytes / 2 ** 20);
    baselines.push(result.baselineRssBytes / 2 ** 20);
  }
  record('subscription catch-up', 'events/s', catchUp);
  const peak = Math.max(...peaks);
  const rssAim: Aim = { text: '< 300 MB', met: peak < 300 };
  figures['subscription catch-up, peak RSS'] = {
    ours: peak,
    bare: null,
    unit: 'MB',
    ratio: null,
    aim: rssAim.text,
    aimMet: rssAim.met,
    runs: { ours: peaks, bare: [] },
  };
  figures['catch-up process RSS before subscribing'] = { ours: median(baselines), bare: null, unit: 'MB', ratio: null };
  rows.push({
    measure: 'subscription catch-up, peak RSS (MB)',
    ours: fmt(peak),
    bare: '',
    ratio: '',
    aim: aimCell(rssAim),
  });
  rows.push({
    measure: '  (process RSS before subscribing, MB)',
    ours: fmt(median(baselines)),
    bare: '',
    ratio: '',
    aim: '',
  });

  const loadAtEnd = loadAverage();
  console.log('');
  printTable(rows);
  console.log(
    `\nmedians of ${reps} runs (history load: one run; peak RSS: the highest of ${reps}); ` +
      `load average ${loadAtStart} at start (before this benchmark's own), ${loadAtEnd} at end` +
      (loadAtStart > cpus().length / 2 ? '; other work was running, so figures may be low' : ''),
  );
  if (quick) {
    cleanUp();
    reportQuick([{ name: 'typed readAll / records-only readAll', value: typedShare, aim: 0.8, higherIsBetter: true }]);
  }
  writeResults(
    'event-store',
    startedAt,
    { start: loadAtStart, end: loadAtEnd },
    {
      config: {
        historyEvents: historySize,
        singleAppends: singleCount,
        batchedEvents: batchedCount,
        batchSize,
        reps,
        readPageSize: READ_PAGE_SIZE,
        historyBatch: HISTORY_BATCH,
        historyStreams: HISTORY_STREAMS,
        synchronous: 'FULL',
      },
      figures,
    },
  );
} finally {
  cleanUp();
}
