/**
 * `failsafe store copy` throughput: a SQLite history copied into an empty SQLite store and, when
 * PostgreSQL is installed, into a throwaway PostgreSQL (src/testing/postgres-server.ts); the
 * copy and its verification (both histories read again and compared) are timed apart.
 * Run: npx tsx bench/store-copy.bench.ts -- [--events N] [--append-size N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { copyStore } from '../src/application/copy-store.js';
import type { EventStore } from '../src/event-store/event-store.js';
import { PostgresEventStore } from '../src/event-store/postgres-event-store.js';
import { SqliteEventStore } from '../src/event-store/sqlite-event-store.js';
import { postgresBinDir, startPostgres } from '../src/testing/postgres-server.js';
import { fmt, loadAverage, progress } from './bench-support.js';
import { healthSampleEvent } from './health-sample-events.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: { events: { type: 'string', default: '20000' }, 'append-size': { type: 'string', default: '1' } },
});
const events = Number(values.events);
const appendSize = Number(values['append-size']);
const dir = mkdtempSync(join(tmpdir(), 'failsafe-bench-copy-'));

async function copyInto(name: string, source: EventStore, target: EventStore): Promise<void> {
  const started = performance.now();
  let copied = started;
  const report = await copyStore(source, target, { onProgress: () => (copied = performance.now()) });
  const done = performance.now();
  const rate = report.events / ((copied - started) / 1000);
  console.log(
    `${name.padEnd(22)} ${fmt(report.events)} events: copy ${fmt(rate)} events/s ` +
      `(${fmt((copied - started) / 1000, 1)} s), verify ${fmt((done - copied) / 1000, 1)} s`,
  );
}

try {
  progress(`writing ${fmt(events)} events in appends of ${appendSize} over 100 streams`);
  const source = SqliteEventStore.open({ path: join(dir, 'source.db') });
  for (let i = 0; i < events / appendSize; i += 1) {
    const batch = Array.from({ length: appendSize }, (_, n) => healthSampleEvent(i % 100, i * appendSize + n));
    await source.append(`health-svc-${i % 100}`, batch, 'any');
  }
  console.log(`store copy, ${fmt(events)} events in appends of ${appendSize}; load average ${loadAverage()}`);
  const sqlite = SqliteEventStore.open({ path: join(dir, 'target.db') });
  await copyInto('SQLite → SQLite', source, sqlite);
  await sqlite.close();
  if (await postgresBinDir()) {
    const server = await startPostgres();
    try {
      await server.psql('CREATE DATABASE copied');
      const postgres = await PostgresEventStore.open({ url: server.url('copied') });
      await copyInto('SQLite → PostgreSQL', source, postgres);
      await postgres.close();
    } finally {
      await server.stop();
    }
  } else console.log('PostgreSQL not installed: SQLite → PostgreSQL skipped');
  await source.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
