import type { EventStore } from './event-store.js';
import { PostgresEventStore } from './postgres-event-store.js';
import { SqliteEventStore } from './sqlite-event-store.js';
import { describeStore, InvalidStoreUrl, parseStoreUrl, type StoreLocation } from './store-url.js';
import type { Clock } from '../runtime/clock.js';

export interface OpenStoreOptions {
  readonly clock?: Clock;
}

/** Opens the store a URL names (see `store-url.ts`); the one place that picks an adapter. */
export async function openStore(url: string | StoreLocation, options: OpenStoreOptions = {}): Promise<EventStore> {
  const location = typeof url === 'string' ? parseStoreUrl(url) : url;
  switch (location.kind) {
    case 'sqlite':
      return SqliteEventStore.open({ path: location.path, ...(options.clock && { clock: options.clock }) });
    case 'postgres':
      return PostgresEventStore.open({ url: location.url, ...(options.clock && { clock: options.clock }) });
    default:
      throw new InvalidStoreUrl(describeStore(location), `names a ${location.kind} store, not supported yet`);
  }
}
