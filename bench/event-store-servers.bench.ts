/**
 * Event store servers benchmark: the PostgreSQL adapter (on one server, and on a primary with a
 * synchronous standby) beside the SQLite adapter, in one run, on the same events; and the time from
 * the primary's loss to appends resuming on the promoted standby.
 * Run: npm run bench:event-store-servers -- [--help]
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { EventStore, ExpectedRevision } from '../src/event-store/event-store.js';
import { storeHistory } from '../src/audit/store-history.js';
import { openStore } from '../src/event-store/open-store.js';
import { type PostgresPair, pairUrl, promoteStandby, startPostgresPair } from '../src/testing/postgres-pair.js';
import { type PostgresServer, startPostgres } from '../src/testing/postgres-server.js';
import { fmt, loadAverage, median, printGrid, progress, timed, writeResults } from './bench-support.js';
import { healthSampleEvent } from './health-sample-events.js';

const STORES = ['sqlite', 'postgres', 'postgres-sync'] as const;
type StoreKind = (typeof STORES)[number];
const TITLES: Record<StoreKind, string> = {
  sqlite: 'sqlite',
  postgres: 'postgres',
  'postgres-sync': 'postgres + sync standby',
};
/** The history for the reads is written in appends of this many events, over this many streams. */
const HISTORY_BATCH = 1000;
const HISTORY_STREAMS = 100;

const HELP = `Usage: npm run bench:event-store-servers -- [options]

Measures, in one run, on the same HealthSampleRecorded events (about 450 bytes of JSON each):
the SQLite store, the PostgreSQL store on one server, and the PostgreSQL store on a primary whose
commits wait for a synchronous streaming standby (all servers throwaway, on loopback, in a
temporary folder removed afterwards):
  1. single-event appends and batched appends with 1, 4 and 16 concurrent writers (each its own
     stream, expected revisions tracked; the writers are async loops on one store, as in one
     failsafe serve): events/s;
  2. readAll over a history of --events events: events/s;
  3. a subscription catching up from the start over that history: events/s; and audit verify's
     two reads of it that a store can answer itself: its telemetry decisions (two rare types, none
     in this history) and whether it holds more than a count of events, each picked or counted by
     the store, and read whole as for a store that cannot; and a split run's partition read, half
     the services left undecoded where the store allows: history events/s;
  4. failover: a writer appends one event at a time to the pair through its multi-host URL; the
     primary is crashed (immediate stop) and the standby promoted (synchronous_standby_names
     cleared, as an operator does): seconds from the crash to the first acknowledged append on the
     promoted standby, and the acknowledged events missing there (must be 0).
Appends and reads: medians of --reps runs, each on a fresh store. Prints a table and writes the
figures as JSON to bench/results/event-store-servers-<timestamp>.json.

Options:
  --single <n>      events appended one per append, per measurement (default 1000)
  --batched <n>     events appended in batches, per measurement (default 20000)
  --batch-size <n>  events per batched append (default 100)
  --writers <list>  concurrent writers, comma-separated (default 1,4,16)
  --events <n>      events in the read and catch-up history (default 200000)
  --failovers <n>   primary losses timed; 0 skips them (default 3)
  --reps <n>        runs of each append and read measurement (default 3)
  --stores <list>   among ${STORES.join(',')} (default all)
  --help            show this help
`;

const { values: args } = parseArgs({
  options: {
    single: { type: 'string', default: '1000' },
    batched: { type: 'string', default: '20000' },
    'batch-size': { type: 'string', default: '100' },
    writers: { type: 'string', default: '1,4,16' },
    events: { type: 'string', default: '200000' },
    failovers: { type: 'string', default: '3' },
    reps: { type: 'string', default: '3' },
    stores: { type: 'string', default: STORES.join(',') },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
function usage(problem: string): never {
  process.stderr.write(`${problem}\n\n${HELP}`);
  process.exit(2);
}
const whole = (name: string, text: string, min: number): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) usage(`--${name} must be a whole number >= ${min}, got "${text}"`);
  return value;
};
const singleCount = whole('single', args.single, 1);
const batchedCount = whole('batched', args.batched, 1);
const batchSize = whole('batch-size', args['batch-size'], 1);
const writerCounts = args.writers.split(',').map((text) => whole('writers', text, 1));
const historySize = whole('events', args.events, 1);
const failovers = whole('failovers', args.failovers, 0);
const reps = whole('reps', args.reps, 1);
const stores = args.stores.split(',').map((name) => {
  if (!(STORES as readonly string[]).includes(name)) usage(`--stores: unknown store "${name}"`);
  return name as StoreKind;
});

const root = mkdtempSync(join(tmpdir(), 'failsafe-bench-servers-'));
// The servers run as the postgres user, which must reach their folders.
chmodSync(root, 0o755);
let single: PostgresServer | undefined;
let pair: PostgresPair | undefined;
let failoverPair: PostgresPair | undefined;
const cleanUp = async () => {
  for (const servers of [pair, failoverPair]) {
    await servers?.standby.stop();
    await servers?.primary.stop();
  }
  await single?.stop();
  rmSync(root, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
}

let fresh = 0;
/** A new, empty store of that kind (a new file or a new database), and how to throw it away. */
async function freshStore(kind: StoreKind): Promise<{ store: EventStore; drop: () => Promise<void> }> {
  fresh += 1;
  if (kind === 'sqlite') {
    const path = join(root, `run-${fresh}.db`);
    const store = await openStore(`sqlite:${path}`);
    return {
      store,
      drop: async () => {
        await store.close();
        rmSync(path, { force: true });
        rmSync(`${path}-wal`, { force: true });
        rmSync(`${path}-shm`, { force: true });
      },
    };
  }
  const server = kind === 'postgres' ? single! : pair!.primary;
  const database = `bench_${fresh}`;
  await server.psql(`CREATE DATABASE ${database}`);
  const store = await openStore(kind === 'postgres' ? server.url(database) : pairUrl(server, pair!.standby, database));
  return {
    store,
    drop: async () => {
      await store.close();
      await server.psql(`DROP DATABASE ${database}`);
    },
  };
}

/** `writers` loops appending `total` events in appends of `perAppend`, each to its own stream: events/s. */
async function appendRate(store: EventStore, writers: number, total: number, perAppend: number): Promise<number> {
  const perWriter = Math.ceil(total / writers);
  const work = Array.from({ length: writers }, (_, w) => {
    const events = Array.from({ length: perWriter }, (_, n) => healthSampleEvent(w, n));
    return Array.from({ length: Math.ceil(perWriter / perAppend) }, (_, b) =>
      events.slice(b * perAppend, (b + 1) * perAppend),
    );
  });
  const seconds = await timed(() =>
    Promise.all(
      work.map(async (batches, w) => {
        let expected: ExpectedRevision = 'no_stream';
        for (const batch of batches)
          expected = (await store.append(`health-w${w}`, batch, expected)).nextExpectedRevision;
      }),
    ),
  );
  return (perWriter * writers) / seconds;
}

/** audit verify's telemetry pass reads these types; the history here holds none. */
const RARE_TYPES = ['TelemetryStale', 'TelemetryResumed'];
/** A partition of a split verification leaves half the services' streams (health-svc-<odd>) undecoded. */
const otherPartition = (stream: string) => Number(stream.split('-').pop()) % 2 === 1;
/** The store without undecoded pages (of some types) and counts: how a history reads a store that has none. */
const withoutTypedReads = (store: EventStore): EventStore =>
  new Proxy(store, {
    get: (target, key) =>
      ['readUndecodedPage', 'countEvents'].includes(String(key)) ? undefined : Reflect.get(target, key, target),
  });

/** Results per measure, then per store: the runs' figures. */
const figures: Record<string, Partial<Record<StoreKind, number[]>>> = {};
const put = (measure: string, kind: StoreKind, value: number) => {
  figures[measure] ??= {};
  (figures[measure][kind] ??= []).push(value);
};

interface Aim {
  readonly measure: string;
  readonly text: string;
  readonly atLeast: number;
}
/** Issue 15's aims, for the PostgreSQL store on one server. */
const AIMS: readonly Aim[] = [
  { measure: `batched append (${batchSize}/append), 1 writer`, text: '>= 10,000/s', atLeast: 10_000 },
  { measure: `batched append (${batchSize}/append), 16 writers`, text: '>= 15,000/s', atLeast: 15_000 },
];

const startedAt = new Date();
const loadAtStart = loadAverage();
const failoverRuns: { resumedSeconds: number; promotedSeconds: number; acknowledged: number; missing: number }[] = [];
try {
  console.log(
    `Failsafe event store servers benchmark: ${startedAt.toISOString()}, node ${process.version}, ` +
      `${cpus().length} cores, load average ${loadAtStart}`,
  );
  console.log(`command: ${process.argv.slice(2).join(' ') || '(defaults)'}\n`);
  if (stores.includes('postgres')) {
    progress('starting a PostgreSQL server');
    single = await startPostgres({ under: root });
  }
  if (stores.includes('postgres-sync')) {
    progress('starting a PostgreSQL primary and its synchronous standby');
    pair = await startPostgresPair({ under: root });
  }

  // 1. Appends: single and batched, 1, 4 and 16 writers; the stores take turns run by run.
  for (const [label, total, perAppend] of [
    ['single-event append', singleCount, 1],
    [`batched append (${batchSize}/append)`, batchedCount, batchSize],
  ] as const) {
    for (const writers of writerCounts) {
      const measure = `${label}, ${writers} writer${writers === 1 ? '' : 's'}`;
      for (let run = 0; run < reps; run += 1) {
        for (const kind of stores) {
          progress(`${measure}: ${TITLES[kind]}, run ${run + 1} of ${reps}`);
          const { store, drop } = await freshStore(kind);
          put(measure, kind, await appendRate(store, writers, total, perAppend));
          await drop();
        }
      }
    }
  }

  // 2 and 3. readAll and a catching-up subscription over one history per store; the stores take
  // turns run by run, so that a change in the machine's load touches them alike.
  const histories: { kind: StoreKind; store: EventStore; drop: () => Promise<void> }[] = [];
  for (const kind of stores) {
    const { store, drop } = await freshStore(kind);
    histories.push({ kind, store, drop });
    progress(`${TITLES[kind]}: writing a history of ${fmt(historySize)} events (${HISTORY_BATCH} per append)`);
    const loadSeconds = await timed(async () => {
      for (let written = 0, b = 0; written < historySize; written += HISTORY_BATCH, b += 1) {
        const batch = Array.from({ length: Math.min(HISTORY_BATCH, historySize - written) }, (_, i) =>
          healthSampleEvent(b % HISTORY_STREAMS, written + i),
        );
        await store.append(`health-svc-${b % HISTORY_STREAMS}`, batch, 'any');
      }
    });
    put(`history load (${HISTORY_BATCH}/append, 1 writer)`, kind, historySize / loadSeconds);
  }
  for (let run = 0; run < reps; run += 1) {
    for (const { kind, store } of histories) {
      progress(`${TITLES[kind]}: readAll and catch-up, run ${run + 1} of ${reps}`);
      let read = 0;
      const readSeconds = await timed(async () => {
        for await (const _ of store.readAll()) read += 1;
      });
      if (read !== historySize) throw new Error(`${kind}: readAll returned ${read} of ${historySize} events`);
      put('readAll', kind, historySize / readSeconds);
      let delivered = 0;
      const subscription = store.subscribe();
      const catchUpSeconds = await timed(async () => {
        for await (const _ of subscription) if ((delivered += 1) === historySize) break;
      });
      await subscription.close();
      put('subscription catch-up', kind, historySize / catchUpSeconds);
      for (const [how, source] of [
        ['by the store', store],
        ['read whole', withoutTypedReads(store)],
      ] as const) {
        const history = storeHistory(source);
        let found = 0;
        const typesSeconds = await timed(async () => {
          for await (const _ of history.readTypes(0n, RARE_TYPES)) found += 1;
        });
        if (found !== 0) throw new Error(`${kind}: ${found} events of types the history does not hold`);
        put(`audit verify's telemetry pass, ${how} (history events/s)`, kind, historySize / typesSeconds);
        const countSeconds = await timed(async () => {
          if (!(await history.hasMoreThan(historySize - 1))) throw new Error(`${kind}: history counted short`);
        });
        put(`audit verify's split decision, ${how} (history events/s)`, kind, historySize / countSeconds);
        let folded = 0;
        const partitionSeconds = await timed(async () => {
          for await (const event of history.readSkipping!(0n, otherPartition)) if (!('skipped' in event)) folded += 1;
        });
        if (folded === 0 || folded === historySize) throw new Error(`${kind}: ${folded} events kept of a partition`);
        put(`a split audit verify's partition read, ${how} (history events/s)`, kind, historySize / partitionSeconds);
      }
    }
  }
  for (const { drop } of histories) await drop();

  // 4. Failover: crash the primary under a writer, promote the standby, time until appends resume.
  for (let run = 0; run < failovers; run += 1) {
    progress(`failover ${run + 1} of ${failovers}: a fresh pair, a writer, the primary crashed, the standby promoted`);
    const ha = (failoverPair = await startPostgresPair({ under: root }));
    const store = await openStore(ha.url);
    const acknowledged: { id: string; at: number }[] = [];
    let stop = false;
    const writer = (async () => {
      for (let n = 0; !stop; n += 1) {
        const event = healthSampleEvent(0, n);
        // The same event (same id) until it is acknowledged: a retry never writes it twice.
        for (;;) {
          try {
            await store.append('health-failover', [event], 'any');
            acknowledged.push({ id: event.id, at: performance.now() });
            break;
          } catch {
            await sleep(10);
          }
        }
      }
    })();
    while (acknowledged.length < 200) await sleep(10);
    const crashedAt = performance.now();
    await ha.primary.stop({ mode: 'immediate', keep: true });
    await promoteStandby(ha.standby);
    const promotedAt = performance.now();
    while (!acknowledged.some((ack) => ack.at > promotedAt)) {
      if (performance.now() - promotedAt > 60_000) throw new Error('appends did not resume within 60 s of promotion');
      await sleep(5);
    }
    stop = true;
    await writer;
    const resumedAt = acknowledged.find((ack) => ack.at > promotedAt)!.at;
    const stored = new Set<string>();
    for await (const event of store.readStream('health-failover')) stored.add(event.id);
    await store.close();
    const missing = acknowledged.filter((ack) => !stored.has(ack.id)).length;
    failoverRuns.push({
      resumedSeconds: (resumedAt - crashedAt) / 1000,
      promotedSeconds: (promotedAt - crashedAt) / 1000,
      acknowledged: acknowledged.length,
      missing,
    });
    await ha.standby.stop();
    await ha.primary.stop();
    failoverPair = undefined;
  }

  const loadAtEnd = loadAverage();
  console.log('');
  const aimCell = (measure: string) => {
    const aim = AIMS.find((a) => a.measure === measure);
    const postgres = figures[measure]?.postgres;
    if (!aim || !postgres) return '';
    return `postgres ${aim.text}: ${median(postgres) >= aim.atLeast ? 'met' : 'MISSED'}`;
  };
  printGrid(
    ['measure (events/s)', ...stores.map((kind) => TITLES[kind]), 'aim'],
    Object.entries(figures).map(([measure, byStore]) => [
      measure,
      ...stores.map((kind) => (byStore[kind] ? fmt(median(byStore[kind])) : '')),
      aimCell(measure),
    ]),
  );
  if (failoverRuns.length > 0) {
    const resumed = failoverRuns.map((r) => r.resumedSeconds);
    const promoted = failoverRuns.map((r) => r.promotedSeconds);
    console.log(
      `\nfailover (${failoverRuns.length} runs): appends resumed ${fmt(median(resumed), 2)} s after the primary's ` +
        `crash (median; runs ${resumed.map((s) => fmt(s, 2)).join(', ')}), of which crash + promotion ` +
        `${fmt(median(promoted), 2)} s; acknowledged events missing on the promoted standby: ` +
        `${failoverRuns.map((r) => `${r.missing} of ${fmt(r.acknowledged)}`).join(', ')}`,
    );
  }
  console.log(
    `\nmedians of ${reps} runs (history load: one run); load average ${loadAtStart} at start, ${loadAtEnd} at end` +
      (loadAtStart > cpus().length / 2 ? '; other work was running, so figures may be low' : ''),
  );
  writeResults(
    'event-store-servers',
    startedAt,
    { start: loadAtStart, end: loadAtEnd },
    {
      config: { singleCount, batchedCount, batchSize, writerCounts, historySize, reps, stores },
      figures,
      failovers: failoverRuns,
    },
  );
} finally {
  await cleanUp();
}
