/**
 * A child process for the SQLite crash and multi-process tests: it appends to a real store and
 * reports on stdout (synchronous for pipes on Linux) only what the store acknowledged.
 *   flood <db>                  appends 3-event batches until killed, printing "ack <batch> <ids>"
 *   contend <db> <worker> <n>   appends n events to stream "shared" with optimistic retries
 */
import { v7 as uuidv7 } from 'uuid';
import { WrongExpectedRevision } from './errors.js';
import { SqliteEventStore } from './sqlite-event-store.js';

const [mode, path, ...rest] = process.argv.slice(2);
if (!path || (mode !== 'flood' && mode !== 'contend')) {
  process.stderr.write('usage: flood <db> | contend <db> <worker> <count>\n');
  process.exit(2);
}
const store = SqliteEventStore.open({ path, busyTimeoutMs: 30_000 });

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
} else {
  const worker = Number(rest[0]);
  const count = Number(rest[1]);
  for (let n = 0; n < count; n += 1) {
    for (;;) {
      let expected: bigint | 'no_stream' = 'no_stream';
      for await (const last of store.readStream('shared', { direction: 'backwards', maxCount: 1 })) expected = last.revision;
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
