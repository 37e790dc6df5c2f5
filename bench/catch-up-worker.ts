/**
 * Measures a subscription catching up over an existing store, in a process of its own so that
 * its resident memory is the subscription's alone; then, in the same process and after the peak
 * has been taken, the bare loop's paged read of the same rows, so both throughputs are measured
 * under the same conditions (a fresh process, the same JIT warm-up). Prints one JSON line.
 *   tsx bench/catch-up-worker.ts <store db> <bare db> <count> <page size>
 */
import { performance } from 'node:perf_hooks';
import { SqliteEventStore } from '../src/event-store/sqlite-event-store.js';
import { BareEventLog } from './bare-event-log.js';

const [path, barePath, countText, pageSizeText] = process.argv.slice(2);
const count = Number(countText);
const readPageSize = Number(pageSizeText);
const store = SqliteEventStore.open({ path: path!, readPageSize });
const baselineRssBytes = process.memoryUsage().rss;
let peakRssBytes = baselineRssBytes;
let seen = 0;
const start = performance.now();
const subscription = store.subscribe();
// Sampled by count, once per page: during catch-up every await resolves at once (the pages are
// read synchronously), so a setInterval sampler would never get a turn until the loop ends.
for await (const event of subscription) {
  seen += 1;
  if (seen % readPageSize === 0) peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss);
  if (event.position < 0n || seen === count) break;
}
const seconds = (performance.now() - start) / 1000;
peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss);
await store.close();

const bare = new BareEventLog(barePath!);
const bareStart = performance.now();
const bareRead = bare.readAll(readPageSize);
const bareSeconds = (performance.now() - bareStart) / 1000;
bare.close();

console.log(JSON.stringify({ seen, seconds, baselineRssBytes, peakRssBytes, bareRead, bareSeconds }));
