/**
 * A child process for the SQLite crash and multi-process tests: it appends to a real store and
 * reports on stdout (synchronous for pipes on Linux) only what the store acknowledged.
 *   flood <db>                  appends 3-event batches until killed, printing "ack <batch> <ids>"
 *   contend <db> <worker> <n>   appends n events to stream "shared" with optimistic retries
 *   archive-then-die <db>       appends to "health-k" (maxCount 10), printing "ack <id>", and is killed
 *                               by its archive once the first trim's segment is durable, before the delete
 */
import { resolve } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { WrongExpectedRevision } from './errors.js';
import type { EventArchive } from './event-archive.js';
import { SegmentArchive } from './segment-archive.js';
import { SqliteEventStore } from './sqlite-event-store.js';

const [mode, path, ...rest] = process.argv.slice(2);
if (!path || (mode !== 'flood' && mode !== 'contend' && mode !== 'archive-then-die')) {
  process.stderr.write('usage: flood <db> | contend <db> <worker> <count> | archive-then-die <db>\n');
  process.exit(2);
}
const archive = SegmentArchive.nextTo(resolve(path));
const dying: EventArchive = {
  write: (events) => {
    archive.write(events);
    process.kill(process.pid, 'SIGKILL');
  },
  cursor: (from) => archive.cursor(from),
  readEvents: (ids) => archive.readEvents(ids),
};
const store = SqliteEventStore.open({
  path,
  busyTimeoutMs: 30_000,
  ...(mode === 'archive-then-die' && { archive: dying }),
});

if (mode === 'flood') {
  process.stdout.write('ready\n');
  for (let batch = 0; ; batch += 1) {
    const ids = [uuidv7(), uuidv7(), uuidv7()];
    const payload = 'x'.repeat(200 + (batch % 7) * 300);
    await store.append(
      `kill-${batch % 5}`,
      ids.map((id, part) => ({ id, type: 'Flooded', data: { batch: ids[0], part, payload } })),
      'any',
    );
    process.stdout.write(`ack ${ids.join(',')}\n`);
  }
} else if (mode === 'archive-then-die') {
  await store.setStreamMetadata('health-k', { maxCount: 10 });
  for (;;) {
    const id = uuidv7();
    await store.append('health-k', [{ id, type: 'Sampled', data: {} }], 'any');
    process.stdout.write(`ack ${id}\n`);
  }
} else {
  const worker = Number(rest[0]);
  const count = Number(rest[1]);
  for (let n = 0; n < count; n += 1) {
    for (;;) {
      let expected: bigint | 'no_stream' = 'no_stream';
      for await (const last of store.readStream('shared', { direction: 'backwards', maxCount: 1 }))
        expected = last.revision;
      try {
        await store.append('shared', [{ id: uuidv7(), type: 'Counted', data: { worker, n } }], expected);
        break;
      } catch (error) {
        if (!(error instanceof WrongExpectedRevision)) throw error;
      }
    }
  }
  await store.close();
}
