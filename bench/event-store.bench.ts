/**
 * Event store benchmark: the SQLite adapter beside a bare better-sqlite3 loop doing the same
 * work in the same run (see bare-event-log.ts for what "the same work" includes).
 * Run: npm run bench -- [--events N] [--single N] [--batch-size N] [--batched N] [--reps N]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { NewEvent } from '../src/event-store/event-store.js';
import { SqliteEventStore } from '../src/event-store/sqlite-event-store.js';
import { decodeEvent } from '../src/events/catalogue.js';
import { BareEventLog } from './bare-event-log.js';
import { fmt, median, percentile, printTable, progress, timed, type Row } from './bench-support.js';
import { healthSampleEvent } from './health-sample-events.js';

const HELP = `Usage: npm run bench -- [options]

Measures the SQLite event store beside a bare better-sqlite3 loop, in one run:
durable single-event append, batched append, readAll with decoding, and a
subscription catching up over the whole history (throughput and peak memory).

Options:
  --events <n>      events in the read and catch-up history (default 1000000)
  --single <n>      single-event appends per repetition (default 2000)
  --batched <n>     events appended in batches per repetition (default 50000)
  --batch-size <n>  events per batched append (default 100)
  --reps <n>        repetitions of the append measurements; medians are reported (default 3)
  --help            show this help
`;

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    single: { type: 'string', default: '2000' },
    batched: { type: 'string', default: '50000' },
    'batch-size': { type: 'string', default: '100' },
    reps: { type: 'string', default: '3' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const positive = (name: keyof typeof args): number => {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value <= 0) {
    process.stderr.write(`--${name} must be a positive whole number, got "${args[name]}"\n${HELP}`);
    process.exit(2);
  }
  return value;
};
const historySize = positive('events');
const singleCount = positive('single');
const batchedCount = positive('batched');
const batchSize = positive('batch-size');
const reps = positive('reps');

const root = mkdtempSync(join(tmpdir(), 'failsafe-bench-'));
let fresh = 0;
const freshPair = () => {
  fresh += 1;
  const dir = join(root, `run-${fresh}`);
  mkdirSync(dir);
  return { store: SqliteEventStore.open({ path: join(dir, 'failsafe.db') }), bare: new BareEventLog(join(dir, 'bare.db')) };
};
const generate = (count: number, streams: number): NewEvent[] =>
  Array.from({ length: count }, (_, n) => healthSampleEvent(n % streams, n));

interface Figures {
  [measure: string]: { ours: number; bare: number; unit: string };
}
const figures: Figures = {};
const rows: Row[] = [];
const record = (measure: string, unit: string, ours: number, bare: number, aim = '', higherIsBetter = true, digits = 0) => {
  figures[measure] = { ours, bare, unit };
  const ratio = higherIsBetter ? ours / bare : bare / ours;
  rows.push({ measure: `${measure} (${unit})`, ours: fmt(ours, digits), bare: fmt(bare, digits), ratio: `${fmt(ratio * 100)} %`, aim });
};

try {
  console.log(`Failsafe event store benchmark — ${new Date().toISOString()}, node ${process.version}, ${cpus().length} cores`);
  console.log('ratio = failsafe / bare loop for throughput, bare / failsafe for latency\n');

  progress(`durable single-event append: ${singleCount} appends x ${reps} runs`);
  const single = { ours: [] as number[], bare: [] as number[], p50: [] as number[], p99: [] as number[], bareP50: [] as number[], bareP99: [] as number[] };
  for (let rep = 0; rep < reps; rep += 1) {
    const { store, bare } = freshPair();
    const events = generate(singleCount, 10);
    const latencies: number[] = [];
    const bareLatencies: number[] = [];
    single.ours.push(
      singleCount /
        (await timed(async () => {
          for (const [n, e] of events.entries()) {
            const start = performance.now();
            await store.append(`health-svc-${n % 10}`, [e], 'any');
            latencies.push(performance.now() - start);
          }
        })),
    );
    single.bare.push(
      singleCount /
        (await timed(() => {
          for (const [n, e] of events.entries()) {
            const start = performance.now();
            bare.append(`health-svc-${n % 10}`, [e]);
            bareLatencies.push(performance.now() - start);
          }
        })),
    );
    single.p50.push(percentile(latencies, 50));
    single.p99.push(percentile(latencies, 99));
    single.bareP50.push(percentile(bareLatencies, 50));
    single.bareP99.push(percentile(bareLatencies, 99));
    await store.close();
    bare.close();
  }
  record('single-event append', 'events/s', median(single.ours), median(single.bare));
  record('single-event append p50', 'ms', median(single.p50), median(single.bareP50), '', false, 3);
  record('single-event append p99', 'ms', median(single.p99), median(single.bareP99), '', false, 3);

  progress(`batched append: ${batchedCount} events in batches of ${batchSize} x ${reps} runs`);
  const batched = { ours: [] as number[], bare: [] as number[] };
  for (let rep = 0; rep < reps; rep += 1) {
    const { store, bare } = freshPair();
    const events = generate(batchedCount, 100);
    const batches = Array.from({ length: Math.ceil(batchedCount / batchSize) }, (_, b) => events.slice(b * batchSize, (b + 1) * batchSize));
    batched.ours.push(batchedCount / (await timed(async () => {
      for (const [b, batch] of batches.entries()) await store.append(`health-svc-${b % 100}`, batch, 'any');
    })));
    batched.bare.push(batchedCount / (await timed(() => {
      for (const [b, batch] of batches.entries()) bare.append(`health-svc-${b % 100}`, batch);
    })));
    await store.close();
    bare.close();
  }
  record(`batched append (${batchSize}/append)`, 'events/s', median(batched.ours), median(batched.bare), '>= 70 %');

  progress(`writing a history of ${fmt(historySize)} events to both (batches of 1,000 over 1,000 streams)`);
  const { store, bare } = freshPair();
  let loadOurs = 0;
  let loadBare = 0;
  for (let written = 0; written < historySize; written += 1000) {
    const batch = Array.from({ length: Math.min(1000, historySize - written) }, (_, i) => healthSampleEvent((written + i) % 1000, written + i));
    const stream = `health-svc-${(written / 1000) % 1000}`;
    loadOurs += await timed(() => store.append(stream, batch, 'any'));
    loadBare += await timed(() => bare.append(stream, batch));
    if ((written + 1000) % 200_000 === 0) progress(`${fmt(written + 1000)} events written`);
  }
  record('history load (1,000/append)', 'events/s', historySize / loadOurs, historySize / loadBare);

  progress('readAll over the history');
  let count = 0;
  const readRaw = await timed(async () => {
    for await (const _ of store.readAll()) count += 1;
  });
  if (count !== historySize) throw new Error(`readAll returned ${count} of ${historySize} events`);
  const readDecoded = await timed(async () => {
    for await (const event of store.readAll()) decodeEvent(event);
  });
  const readBare = await timed(() => bare.readAll(1000));
  record('readAll, JSON decoded', 'events/s', historySize / readRaw, historySize / readBare, '>= 100,000/s');
  record('readAll + catalogue decode', 'events/s', historySize / readDecoded, historySize / readBare, '>= 100,000/s');
  const storePath = store.path;
  await store.close();
  bare.close();

  progress('subscription catching up over the history, in a process of its own');
  const worker = fileURLToPath(new URL('./catch-up-worker.ts', import.meta.url));
  const output = execFileSync(process.execPath, ['--import', 'tsx', worker, storePath, String(historySize)], { encoding: 'utf8' });
  const catchUp = JSON.parse(output.trim().split('\n').at(-1)!) as { seen: number; seconds: number; peakRssBytes: number };
  if (catchUp.seen !== historySize) throw new Error(`the subscription delivered ${catchUp.seen} of ${historySize} events`);
  record('subscription catch-up', 'events/s', historySize / catchUp.seconds, historySize / readBare);
  rows.push({ measure: 'subscription catch-up peak RSS (MB)', ours: fmt(catchUp.peakRssBytes / 2 ** 20), bare: '', ratio: '', aim: '< 300 MB' });
  figures['subscription catch-up peak RSS'] = { ours: catchUp.peakRssBytes / 2 ** 20, bare: Number.NaN, unit: 'MB' };

  console.log('');
  printTable(rows);
  const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `event-store-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cores: cpus().length, args, figures }, null, 2)}\n`);
  console.log(`\nfigures written to ${file}`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
