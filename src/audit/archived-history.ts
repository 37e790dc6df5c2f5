import type { ArchiveReader } from '../event-store/event-archive.js';
import type { EventStore, RecordedEvent } from '../event-store/event-store.js';
import type { History } from './history.js';

const PAGE = 1000;
const END = 2n ** 63n;

/** One page of live events and the archived ones up to its end, in position order (copies kept). */
async function* withArchived(
  page: readonly RecordedEvent[],
  archived: AsyncIterable<RecordedEvent>,
): AsyncIterable<RecordedEvent> {
  let index = 0;
  for await (const event of archived) {
    while (index < page.length && page[index]!.position <= event.position) yield page[index++]!;
    yield event;
  }
  yield* page.slice(index);
}

/** The live store and the archive its retention writes, read as one history. */
export function archivedHistory(store: EventStore, archive: ArchiveReader): History {
  return {
    async *readAll(fromPosition = 0n) {
      const archived = archive.cursor(fromPosition);
      let last = fromPosition - 1n;
      for (let next = fromPosition; ; ) {
        const page: RecordedEvent[] = [];
        for await (const event of store.readAll({ fromPosition: next, maxCount: PAGE })) page.push(event);
        const complete = page.length < PAGE;
        // The archive is read after the page: an event trimmed since was archived before its delete.
        const bound = complete ? END : page[page.length - 1]!.position;
        for await (const event of withArchived(page, archived.upTo(bound))) {
          // Archived but not yet deleted (a crash between the two): one copy.
          if (event.position <= last) continue;
          last = event.position;
          yield event;
        }
        if (complete) return;
        next = bound + 1n;
      }
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
