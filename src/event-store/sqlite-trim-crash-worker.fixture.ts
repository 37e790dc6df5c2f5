/**
 * A child process for the SQLite crash test that needs the store's inside: it appends to
 * "health-k" (maxCount 10) of the store at <db>, printing "ack <id>" (stdout is synchronous for
 * pipes on Linux) after each append, and is killed by its archive once the first trim's segment is
 * durable, before the trim's delete commits.
 */
import { resolve } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import type { EventArchive } from './event-archive.js';
import { SegmentArchive } from './segment-archive.js';
import { SqliteEventStore } from './sqlite-event-store.js';

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: sqlite-trim-crash-worker.fixture.ts <db>\n');
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
const store = SqliteEventStore.open({ path, archive: dying });
await store.setStreamMetadata('health-k', { maxCount: 10 });
for (;;) {
  const id = uuidv7();
  await store.append('health-k', [{ id, type: 'Sampled', data: {} }], 'any');
  process.stdout.write(`ack ${id}\n`);
}
