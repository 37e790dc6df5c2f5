/**
 * Measures a subscription catching up over an existing store, in a process of its own so that
 * its resident memory is the subscription's alone. Prints one JSON line.
 *   tsx bench/catch-up-worker.ts <db> <count>
 */
import { performance } from 'node:perf_hooks';
import { SqliteEventStore } from '../src/event-store/sqlite-event-store.js';

const [path, countText] = process.argv.slice(2);
const count = Number(countText);
const store = SqliteEventStore.open({ path: path! });
let peakRss = process.memoryUsage().rss;
let seen = 0;
const start = performance.now();
const subscription = store.subscribe();
for await (const event of subscription) {
  seen += 1;
  if (seen % 10_000 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
  if (event.position < 0n || seen === count) break;
}
const seconds = (performance.now() - start) / 1000;
peakRss = Math.max(peakRss, process.memoryUsage().rss);
await store.close();
console.log(JSON.stringify({ seen, seconds, peakRssBytes: peakRss }));
