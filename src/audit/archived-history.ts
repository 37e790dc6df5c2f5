import type { ArchiveReader } from '../event-store/event-archive.js';
import type { EventStore, RecordedEvent } from '../event-store/event-store.js';
import { decodeEvent, decodeStored } from '../events/catalogue.js';
import type { History } from './history.js';

const PAGE = 1000;
const END = 2n ** 63n;

/** An event of the history and where it was read from. */
type Sourced = readonly [event: RecordedEvent, archived: boolean];

/** One page of live events and the archived ones up to its end, in position order (copies kept). */
async function* withArchived(
  page: readonly RecordedEvent[],
  archived: AsyncIterable<RecordedEvent>,
): AsyncIterable<Sourced> {
  let index = 0;
  for await (const event of archived) {
    while (index < page.length && page[index]!.position <= event.position) yield [page[index++]!, false];
    yield [event, true];
  }
  for (const event of page.slice(index)) yield [event, false];
}

/**
 * The live store and the archive its retention writes, read as one history. Decoded, the store's
 * events are trusted (validated when appended); the archive's are validated again, as input from
 * outside: its segments are plain gzip'd files that can be restored, copied in or edited by hand.
 */
export function archivedHistory(store: EventStore, archive: ArchiveReader): History {
  async function* sourced(fromPosition: bigint): AsyncIterable<Sourced> {
    const archived = archive.cursor(fromPosition);
    let last = fromPosition - 1n;
    for (let next = fromPosition; ; ) {
      const page: RecordedEvent[] = [];
      for await (const event of store.readAll({ fromPosition: next, maxCount: PAGE })) page.push(event);
      const complete = page.length < PAGE;
      // The archive is read after the page: an event trimmed since was archived before its delete.
      const bound = complete ? END : page[page.length - 1]!.position;
      for await (const entry of withArchived(page, archived.upTo(bound))) {
        // Archived but not yet deleted (a crash between the two): one copy.
        if (entry[0].position <= last) continue;
        last = entry[0].position;
        yield entry;
      }
      if (complete) return;
      next = bound + 1n;
    }
  }

  return {
    async *readAll(fromPosition = 0n) {
      for await (const [event] of sourced(fromPosition)) yield event;
    },

    async *readDecoded(fromPosition = 0n) {
      for await (const [event, archived] of sourced(fromPosition))
        yield archived ? decodeEvent(event) : decodeStored(event);
    },

    async readEvents(ids) {
      const found = new Map<string, RecordedEvent>();
      for (const id of ids) {
        const event = await store.readEvent(id);
        if (event) found.set(id, event);
      }
      const rest = ids.filter((id) => !found.has(id));
      if (rest.length === 0) return found;
      const archived = await archive.readEvents(rest);
      for (const id of rest) {
        const event = archived.get(id.toLowerCase());
        if (event) found.set(id, event);
      }
      return found;
    },
  };
}
