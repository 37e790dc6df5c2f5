import { createHash } from 'node:crypto';
import { storeHistory } from '../audit/store-history.js';
import type { EventStore, RecordedEvent } from '../event-store/event-store.js';

/** JSON with object keys sorted, so that stores that reorder keys (jsonb) compare equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonical(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Everything of an event a copy must keep; not its position, which a copy's target assigns. */
export const eventContent = (e: RecordedEvent): string =>
  canonical([e.id, e.stream, e.revision.toString(), e.type, e.data, e.metadata, e.recordedAt.toISOString()]);

/** The history up to `head`: what was there when a copy or a backup began. */
export async function* historyUpTo(events: AsyncIterable<RecordedEvent>, head: bigint): AsyncIterable<RecordedEvent> {
  for await (const event of events) {
    if (event.position > head) return;
    yield event;
  }
}

export interface HistorySummary {
  readonly events: number;
  /** The position of the last event; 0 for an empty history. */
  readonly lastPosition: bigint;
  /** SHA-256 over every event in order, its position included: a backup keeps positions. */
  readonly digest: string;
}

/**
 * Reads a store's whole history (the archive its retention wrote included) up to `head`, hashing
 * each event with its position; `onEvent` is told the count as it goes, for progress on long work.
 */
export async function summariseHistory(
  store: EventStore,
  options: { head?: bigint; onEvent?: (events: number, position: bigint) => void } = {},
): Promise<HistorySummary> {
  const hash = createHash('sha256');
  const all = storeHistory(store).readAll();
  let events = 0;
  let lastPosition = 0n;
  for await (const event of options.head === undefined ? all : historyUpTo(all, options.head)) {
    hash.update(`${event.position} ${eventContent(event)}\n`);
    events += 1;
    lastPosition = event.position;
    options.onEvent?.(events, lastPosition);
  }
  return { events, lastPosition, digest: hash.digest('hex') };
}
