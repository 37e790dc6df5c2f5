import { EventStoreError } from './errors.js';
import type { EventStore } from './event-store.js';
import { openStore, type OpenStoreOptions } from './open-store.js';
import { describeStore, type StoreLocation } from './store-url.js';

/** The store named could not be opened or did not answer; nothing was written. */
export class StoreUnavailable extends EventStoreError {
  readonly code = 'STORE_UNAVAILABLE';
  constructor(
    /** The store, password masked. */
    readonly store: string,
    detail: string,
  ) {
    super(
      `StoreUnavailable: ${store} cannot be used (${detail}); ` +
        'check the store URL, that the server answers, and the credentials',
    );
  }
}

/** A driver's message on one line, with the location's password (if any) masked. */
function reason(error: unknown, location: StoreLocation): string {
  const text = error instanceof Error ? error.message : String(error);
  const password = location.kind === 'sqlite' ? undefined : /\/\/[^:/@]*:([^@/]+)@/.exec(location.url)?.[1];
  return (password ? text.replaceAll(password, '***') : text).replace(/\s*\n\s*/g, ' ');
}

/**
 * Opens the store a location names and reads its head once, so that a wrong URL, a server that
 * refuses connections or a file that cannot be written fails at start with one clear line.
 */
export async function connectStore(location: StoreLocation, options: OpenStoreOptions = {}): Promise<EventStore> {
  let store: EventStore | undefined;
  try {
    store = await openStore(location, options);
    await store.headPosition();
    return store;
  } catch (error) {
    await store?.close().catch(() => undefined);
    if (error instanceof EventStoreError) throw error;
    throw new StoreUnavailable(describeStore(location), reason(error, location));
  }
}
