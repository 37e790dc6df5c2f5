import type { ArchiveCursor, EventArchive } from './event-archive.js';
import type { RecordedEvent } from './event-store.js';

/** The archive of the in-memory store: trimmed events kept in this process, gone when it ends. */
export class MemoryEventArchive implements EventArchive {
  private readonly byPosition = new Map<bigint, RecordedEvent>();
  private readonly byId = new Map<string, RecordedEvent>();

  write(events: readonly RecordedEvent[]): void {
    for (const event of events) {
      // A retried trim archives some events again: the first copy counts.
      if (this.byPosition.has(event.position)) continue;
      this.byPosition.set(event.position, event);
      this.byId.set(event.id, event);
    }
  }

  cursor(fromPosition: bigint): ArchiveCursor {
    let last = fromPosition - 1n;
    const archived = this.byPosition;
    return {
      async *upTo(bound: bigint): AsyncIterable<RecordedEvent> {
        const due = [...archived.values()]
          .filter((event) => event.position > last && event.position <= bound)
          .sort((a, b) => (a.position < b.position ? -1 : 1));
        for (const event of due) {
          last = event.position;
          yield event;
        }
      },
    };
  }

  async readEvents(ids: readonly string[]): Promise<ReadonlyMap<string, RecordedEvent>> {
    const found = new Map<string, RecordedEvent>();
    for (const id of ids) {
      const event = this.byId.get(id.toLowerCase());
      if (event) found.set(event.id, event);
    }
    return found;
  }
}
