/**
 * Serve's start on a long history it has no checkpoints for (a first start on an old store, or an
 * upgrade that changed the read models): how long until it listens, until /ready says every read
 * model has caught up, and the process's CPU and peak memory then. Each round starts the real
 * `failsafe serve` on a fresh copy of the same history (SQLite), or with a fresh data folder on one
 * PostgreSQL store that holds the history (`--store postgres`: a throwaway local server).
 * Run: npm run bench:serve-start -- [--events N] [--rounds N] [--store sqlite|postgres] [--cli path/to/failsafe.js]
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { copyStore } from '../src/application/copy-store.js';
import { openStore } from '../src/event-store/open-store.js';
import { SqliteEventStore } from '../src/event-store/sqlite-event-store.js';
import { type PostgresServer, startPostgres } from '../src/testing/postgres-server.js';
import { startServeProcess } from '../src/testing/serve-process.js';
import { writeHistory } from './bench-history.js';
import { fmt, loadAverage, median, progress } from './bench-support.js';

const HELP = `Usage: npm run bench:serve-start -- [options]

  --events <n>    events in the history (default 1000000; 95 % health samples of 50 services)
  --rounds <n>    starts on a fresh copy, medians reported (default 3)
  --store <kind>  sqlite (default) or postgres: the history copied into a throwaway local PostgreSQL
                  server (PostgreSQL 15's binaries on PATH, as for the tests), which every start reads
  --cli <file>    the failsafe.js to start (default this checkout's bin/failsafe.js, which runs
                  dist/: \`npm run build\` after changing the sources); another checkout's to compare
  --timeout <s>   give up on a start after this long (default 900)
  --help          show this help
`;
const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '3' },
    cli: { type: 'string' },
    store: { type: 'string', default: 'sqlite' },
    timeout: { type: 'string', default: '900' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const [events, rounds, timeoutSeconds] = [values.events, values.rounds, values.timeout].map(Number) as [
  number,
  number,
  number,
];
if (![events, rounds, timeoutSeconds].every((n) => Number.isInteger(n) && n > 0)) {
  process.stderr.write(`--events, --rounds and --timeout must be positive whole numbers\n\n${HELP}`);
  process.exit(2);
}
if (values.store !== 'sqlite' && values.store !== 'postgres') {
  process.stderr.write(`--store must be sqlite or postgres, not "${values.store}"\n\n${HELP}`);
  process.exit(2);
}
const cli = resolve(values.cli ?? fileURLToPath(new URL('../bin/failsafe.js', import.meta.url)));

interface Start {
  readonly listening: number;
  readonly ready: number;
  readonly cpuSeconds: number;
  readonly peakRssMb: number;
}

/** CPU seconds (user and system) and peak resident memory of a process, from /proc. */
function usage(pid: number): { cpuSeconds: number; peakRssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const peak = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { cpuSeconds: ticks / 100, peakRssMb: Number(peak) / 1024 };
}

/** Starts serve with a fresh data folder: on a copy of the SQLite history, or on the PostgreSQL store at `storeUrl`. */
async function startOnce(history: string, round: number, storeUrl: string | undefined): Promise<Start> {
  const dataDir = join(root, `round-${round}`);
  mkdirSync(dataDir);
  if (!storeUrl) copyFileSync(history, join(dataDir, 'failsafe.db'));
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  // The compiled CLI, as an operator runs it: the sources through tsx would add their own start.
  const serve = await startServeProcess({
    dataDir,
    bin: cli,
    args: storeUrl ? ['--store', storeUrl] : [],
    env: { FAILSAFE_FROM_SOURCE: '0' },
    timeoutMs: timeoutSeconds * 1000,
  });
  const listening = seconds();
  try {
    for (;;) {
      if (seconds() > timeoutSeconds)
        throw new Error(`serve did not catch up within ${timeoutSeconds} s:\n${serve.output()}`);
      if (serve.child.exitCode !== null)
        throw new Error(`serve exited with ${serve.child.exitCode}:\n${serve.output()}`);
      const ready = await fetch(`${serve.url}/ready`).catch(() => undefined);
      if (ready?.status === 200) return { listening, ready: seconds(), ...usage(serve.child.pid!) };
      await sleep(100);
    }
  } finally {
    await serve.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A throwaway PostgreSQL server holding a copy of the history; its store's URL. */
async function postgresCopy(history: string): Promise<{ server: PostgresServer; url: string }> {
  // The server runs as the postgres user, which must reach its folder.
  chmodSync(root, 0o755);
  const server = await startPostgres({ under: root });
  await server.psql('CREATE DATABASE history');
  const url = server.url('history');
  const [source, target] = [await openStore(`sqlite:${history}`), await openStore(url)];
  try {
    progress(`copying the history into PostgreSQL (${url})`);
    let shown = 0;
    await copyStore(source, target, {
      batchSize: 1000,
      onProgress: ({ events }) => {
        if (events < shown + 100_000) return;
        shown = events;
        progress(`${fmt(events)} copied`);
      },
    });
  } finally {
    await Promise.all([source.close(), target.close()]);
  }
  return { server, url };
}

const root = mkdtempSync(join(tmpdir(), 'failsafe-bench-serve-start-'));
let postgres: PostgresServer | undefined;
try {
  console.log(
    `Failsafe serve start benchmark — ${new Date().toISOString()}, node ${process.version}, ${cpus().length} cores, ` +
      `${cli}`,
  );
  const history = join(root, 'history.db');
  const store = SqliteEventStore.open({ path: history });
  progress(`writing ${fmt(events)} events over 50 services`);
  await writeHistory(store, events, {
    services: 50,
    healthStreams: true,
    onProgress: (written) => progress(`${fmt(written)} written`),
  });
  await store.close();
  const storeUrl = values.store === 'postgres' ? await postgresCopy(history) : undefined;
  postgres = storeUrl?.server;
  const starts: Start[] = [];
  for (let round = 1; round <= rounds; round += 1) {
    progress(`start ${round} of ${rounds} (load ${loadAverage()})`);
    const start = await startOnce(history, round, storeUrl?.url);
    progress(
      `listening ${start.listening.toFixed(2)} s, ready ${start.ready.toFixed(2)} s, ` +
        `CPU ${start.cpuSeconds.toFixed(1)} s, peak ${fmt(start.peakRssMb)} MB`,
    );
    starts.push(start);
  }
  const each = (pick: (s: Start) => number, digits: number) => starts.map((s) => pick(s).toFixed(digits)).join(', ');
  const rows: [string, string, string][] = [
    ['listening (s)', fmt(median(starts.map((s) => s.listening)), 2), each((s) => s.listening, 2)],
    ['every read model caught up: /ready 200 (s)', fmt(median(starts.map((s) => s.ready)), 2), each((s) => s.ready, 2)],
    ['CPU until then (s)', fmt(median(starts.map((s) => s.cpuSeconds)), 1), each((s) => s.cpuSeconds, 1)],
    ['peak resident memory until then (MB)', fmt(median(starts.map((s) => s.peakRssMb))), each((s) => s.peakRssMb, 0)],
  ];
  console.log(
    `\n${fmt(events)} events in ${values.store}, no checkpoints, medians of ${rounds} (each); load ${loadAverage()}`,
  );
  const width = Math.max(...rows.map((r) => r[0].length));
  for (const [measure, value, note] of rows) console.log(`${measure.padEnd(width)}  ${value.padStart(10)}  (${note})`);
} finally {
  await postgres?.stop();
  rmSync(root, { recursive: true, force: true });
}
