import type { EventArchive } from '../event-store/event-archive.js';
import type { EventStore } from '../event-store/event-store.js';
import { archivedHistory } from './archived-history.js';
import type { History } from './history.js';

/** For a store that keeps no archive: nothing was ever trimmed into one. */
const NO_ARCHIVE: EventArchive = {
  write: () => undefined,
  cursor: () => ({ async *upTo() {} }),
  readEvents: async () => new Map(),
};

/** An adapter whose retention archives what it trims exposes that archive as `archive` (SQLite does). */
const archiveOf = (store: EventStore): EventArchive | undefined => {
  const archive = (store as { archive?: Partial<EventArchive> }).archive;
  return typeof archive?.cursor === 'function' && typeof archive.readEvents === 'function'
    ? (archive as EventArchive)
    : undefined;
};

/** The whole history of any store: its live events and, when it keeps one, the archive its retention wrote. */
export const storeHistory = (store: EventStore): History => archivedHistory(store, archiveOf(store) ?? NO_ARCHIVE);
