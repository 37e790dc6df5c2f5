/**
 * Replays a store into every read model, in a process of its own so that its peak resident
 * memory is the replay's alone. It reads the store alone first, in the same process and just before,
 * so the replay's ratio to that read compares like with like (warm page cache, the same JIT state).
 * Run with --expose-gc, it also reports the heap the read models hold once the replay's garbage is
 * collected: the peak resident memory is mostly garbage V8 had not yet collected. Prints one JSON line.
 *   node --expose-gc --import tsx bench/replay-worker.ts <db>
 */
import { performance } from 'node:perf_hooks';
import { allProjections } from '../projections/all-projections.js';
import { SqliteEventStore } from '../src/event-store/sqlite-event-store.js';
import { decodeStored } from '../src/events/catalogue.js';
import { defaultRollbackPolicy, figureSecondsFor, retainSecondsFor } from '../src/policy/rollback-policy.js';

const store = SqliteEventStore.open({ path: process.argv[2]! });
const readStart = performance.now();
for await (const _ of store.readAll());
const readSeconds = (performance.now() - readStart) / 1000;
/** The heap in use once garbage is collected (0 without --expose-gc). */
const liveHeap = (): number => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return 0;
  gc();
  return process.memoryUsage().heapUsed;
};
const heapBefore = liveHeap();
const projections = allProjections(retainSecondsFor(defaultRollbackPolicy), figureSecondsFor(defaultRollbackPolicy));
const states = projections.map((p) => p.initialState);
let peakRssBytes = process.memoryUsage().rss;
let events = 0;
const start = performance.now();
for await (const recorded of store.readAll()) {
  const event = decodeStored(recorded);
  for (const [i, p] of projections.entries()) p.apply(states[i], event);
  events += 1;
  if (events % 10_000 === 0) peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss);
}
const seconds = (performance.now() - start) / 1000;
// What the collection leaves beyond the heap before is the read models' (`states` is used below, so kept).
const readModelBytes = Math.max(0, liveHeap() - heapBefore);
await store.close();
console.log(
  JSON.stringify({
    events,
    readModels: states.length,
    seconds,
    readSeconds,
    readModelBytes,
    peakRssBytes: Math.max(peakRssBytes, process.memoryUsage().rss),
  }),
);
