import { v7 as uuidv7 } from 'uuid';
import { storeHistory } from '../audit/store-history.js';
import { collect } from '../event-store/event-store.contract.js';
import type { EventStore, RecordedEvent } from '../event-store/event-store.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { fixedClock } from '../runtime/clock.js';

export const SAMPLE_RETENTION = {
  'health-s0': { maxCount: 50 },
  'health-s1': { maxCount: 50 },
  'health-s2': { maxCount: 80 },
  'drill-old': { maxAgeSeconds: 3600 },
} as const;

const STREAMS = [
  ...Object.keys(SAMPLE_RETENTION),
  'deleted-x',
  ...Array.from({ length: 8 }, (_, i) => `service-s${i}`),
];

/**
 * Writes a history of about `appends` × 2 events across 13 streams into a new SQLite store at
 * `path`: appends of 1 to 3 events, each at its own time 10 s apart; retention by count and by age
 * (so the archive holds some), nested data and metadata, and one deleted stream.
 */
export async function writeSampleHistory(path: string, appends = 1500): Promise<void> {
  const clock = fixedClock('2026-01-01T00:00:00Z');
  const store = SqliteEventStore.open({ path, clock });
  try {
    for (const [stream, retention] of Object.entries(SAMPLE_RETENTION))
      await store.setStreamMetadata(stream, retention);
    for (let i = 0; i < appends; i += 1) {
      clock.set(new Date(Date.UTC(2026, 0, 1) + i * 10_000));
      const stream = STREAMS[i % STREAMS.length]!;
      const events = Array.from({ length: 1 + (i % 3) }, (_, n) => ({
        id: uuidv7(),
        type: stream.startsWith('health') ? 'HealthSampleRecorded' : 'Recorded',
        data: { i, n, nested: { z: [1, { y: 'two' }], a: null }, text: `event ${i}.${n} ✓` },
        metadata: { actor: 'copy-fixture', correlationId: uuidv7() },
      }));
      await store.append(stream, events, 'any');
    }
    await store.deleteStream('deleted-x', 'any');
  } finally {
    await store.close();
  }
}

/** What a faithful copy keeps of each event: all but the position, which is the target's own. */
const kept = (e: RecordedEvent) => ({
  id: e.id,
  stream: e.stream,
  revision: e.revision,
  type: e.type,
  data: e.data,
  metadata: e.metadata,
  recordedAt: e.recordedAt.toISOString(),
});

/** A store's whole history, archive included, as a copy must keep it. */
export const wholeHistory = async (store: EventStore) => (await collect(storeHistory(store).readAll())).map(kept);
