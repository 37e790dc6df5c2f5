import type { ArchiveReader } from '../event-store/event-archive.js';
import { eventTime, parseTime } from '../../projections/event-time.js';
import type { EventStore, RecordedEvent, UndecodedEvent } from '../event-store/event-store.js';
import { decodeEvent, decodeStored, type TypedRecordedEvent } from '../events/catalogue.js';
import type { History, SkippedEvent } from './history.js';

const PAGE = 1000;
const END = 2n ** 63n;

/** An event of the history (from the store as `Live`, decoded or not) and where it was read from. */
type Sourced<Live> = readonly [event: Live, archived: false] | readonly [event: RecordedEvent, archived: true];

/**
 * One page of live events and the archived ones up to its end, in position order, each once and
 * after `last` (an event archived but not yet deleted, by a crash between the two, is in both).
 */
function merged<Live extends { readonly position: bigint }>(
  page: readonly Live[],
  archived: readonly RecordedEvent[],
  last: bigint,
): Sourced<Live>[] {
  const entries: Sourced<Live>[] = [];
  const add = (entry: Sourced<Live>) => {
    if (entry[0].position <= last) return;
    last = entry[0].position;
    entries.push(entry);
  };
  let index = 0;
  for (const event of archived) {
    while (index < page.length && page[index]!.position <= event.position) add([page[index++]!, false]);
    add([event, true]);
  }
  while (index < page.length) add([page[index++]!, false]);
  return entries;
}

type Skip = (stream: string, type: string, id: string) => boolean;

/** The event as skipped, when `skip` picks it. */
function skipped(event: TypedRecordedEvent, skip: Skip): SkippedEvent | undefined {
  if (!skip(event.stream, event.type, event.id)) return undefined;
  return { skipped: true, position: event.position, id: event.id, time: eventTime(event) };
}

/** `readSkipping` of decoded events: for a history that reads none undecoded. */
export async function* skipping(
  events: AsyncIterable<TypedRecordedEvent>,
  skip: Skip,
): AsyncIterable<TypedRecordedEvent | SkippedEvent> {
  for await (const event of events) yield skipped(event, skip) ?? event;
}

type ReadUndecoded = (
  from: bigint,
  max: number,
  types?: readonly string[],
) => readonly UndecodedEvent[] | Promise<readonly UndecodedEvent[]>;

/** A store that reads its events undecoded (SQLite, PostgreSQL) offers `readUndecodedPage`, of some types if asked. */
function undecodedOf(store: EventStore): ReadUndecoded | undefined {
  const reader = (store as { readUndecodedPage?: ReadUndecoded }).readUndecodedPage;
  return typeof reader === 'function' ? reader.bind(store) : undefined;
}

/** A store that counts its events without reading them (SQLite, PostgreSQL) offers `countEvents`. */
function counterOf(store: EventStore) {
  type Count = (from: bigint, upTo: number) => number | Promise<number>;
  const counter = (store as { countEvents?: Count }).countEvents;
  return typeof counter === 'function' ? counter.bind(store) : undefined;
}

const parsed = (event: UndecodedEvent): TypedRecordedEvent =>
  decodeStored({ ...event, data: JSON.parse(event.data), metadata: JSON.parse(event.metadata) });

/** The value of a top-level string field in JSON text, found without parsing it; undefined if not plainly there. */
function stringField(json: string, name: string): string | undefined {
  const key = `"${name}":"`;
  const at = json.indexOf(key);
  if (at < 0) return undefined;
  const end = json.indexOf('"', at + key.length);
  const value = json.slice(at + key.length, end);
  return end < 0 || value.includes('\\') ? undefined : value;
}

/**
 * `eventTime` of an event still undecoded, read from its text without parsing it; undefined when
 * the event must be decoded to tell (an older sample's time, say, is only known once upcast).
 */
function timeOfUndecoded(event: UndecodedEvent): number | undefined {
  const text =
    event.type === 'HealthSampleRecorded'
      ? stringField(event.data, 'sampledAt')
      : event.type === 'ClockTicked'
        ? stringField(event.data, 'at')
        : stringField(event.metadata, 'occurredAt');
  return text === undefined ? undefined : parseTime(text);
}

/**
 * The live store and the archive its retention writes, read as one history. Decoded, the store's
 * events are trusted (validated when appended); the archive's are validated again, as input from
 * outside: its segments are plain gzip'd files that can be restored, copied in or edited by hand.
 */
export function archivedHistory(store: EventStore, archive: ArchiveReader): Required<History> {
  /** A page of the store's events from `fromPosition`, at most `maxCount`, as `read` gives them. */
  type Read<Live> = (fromPosition: bigint, maxCount: number) => Promise<readonly Live[]> | readonly Live[];
  const decoded: Read<RecordedEvent> = async (fromPosition, maxCount) => {
    const page: RecordedEvent[] = [];
    for await (const event of store.readAll({ fromPosition, maxCount })) page.push(event);
    return page;
  };

  /**
   * The history page by page: readers go through a page without an asynchronous step per event.
   * The archive is merged in pages too: a store that kept a thousand events of ten million still
   * holds no more than a page of the archive's in memory.
   */
  async function* pages<Live extends { readonly position: bigint }>(
    fromPosition: bigint,
    read: Read<Live>,
  ): AsyncIterable<readonly Sourced<Live>[]> {
    const archived = archive.cursor(fromPosition);
    let last = fromPosition - 1n;
    /** The live events not yet merged, up to `upTo`, with the archived events before them. */
    function* mergedUpTo(live: readonly Live[], older: readonly RecordedEvent[], upTo: bigint) {
      let end = 0;
      while (end < live.length && live[end]!.position <= upTo) end += 1;
      const entries = merged(live.slice(0, end), older, last);
      if (entries.length > 0) {
        last = entries[entries.length - 1]![0].position;
        yield entries;
      }
      return live.slice(end);
    }
    for (let next = fromPosition; ; ) {
      const page = await read(next, PAGE);
      const complete = page.length < PAGE;
      // The archive is read after the page: an event trimmed since was archived before its delete.
      const bound = complete ? END : page[page.length - 1]!.position;
      let live: readonly Live[] = page;
      let older: RecordedEvent[] = [];
      for await (const event of archived.upTo(bound)) {
        older.push(event);
        if (older.length < PAGE) continue;
        live = yield* mergedUpTo(live, older, event.position);
        older = [];
      }
      yield* mergedUpTo(live, older, END);
      if (complete) return;
      next = bound + 1n;
    }
  }

  return {
    async *readAll(fromPosition = 0n) {
      for await (const page of pages(fromPosition, decoded)) for (const [event] of page) yield event;
    },

    async *readDecoded(fromPosition = 0n) {
      for await (const page of pages(fromPosition, decoded))
        for (const [event, archived] of page) yield archived ? decodeEvent(event) : decodeStored(event);
    },

    async *readSkipping(fromPosition, skip) {
      const undecoded = undecodedOf(store);
      if (!undecoded) {
        yield* skipping(this.readDecoded(fromPosition), skip);
        return;
      }
      for await (const page of pages(fromPosition, undecoded))
        for (const entry of page) {
          if (entry[1]) {
            const event = decodeEvent(entry[0]);
            yield skipped(event, skip) ?? event;
            continue;
          }
          const event = entry[0];
          if (skip(event.stream, event.type, event.id)) {
            const time = timeOfUndecoded(event);
            if (time !== undefined) {
              yield { skipped: true, position: event.position, id: event.id, time };
              continue;
            }
          }
          const decodedEvent = parsed(event);
          yield skipped(decodedEvent, skip) ?? decodedEvent;
        }
    },

    async *readTypes(fromPosition, types) {
      const undecoded = undecodedOf(store);
      if (!undecoded) {
        for await (const event of this.readDecoded(fromPosition)) if (types.includes(event.type)) yield event;
        return;
      }
      // The store picks its events of those types; the archive's are picked here.
      const ofTypes: Read<UndecodedEvent> = (from, maxCount) => undecoded(from, maxCount, types);
      for await (const page of pages(fromPosition, ofTypes))
        for (const [event, archived] of page) {
          if (!archived) yield parsed(event);
          else if (types.includes(event.type)) yield decodeEvent(event);
        }
    },

    async hasMoreThan(count) {
      // The store's own events are enough to tell, most often; else the archive's count too.
      if (((await counterOf(store)?.(0n, count + 1)) ?? 0) > count) return true;
      const undecoded = undecodedOf(store);
      let seen = 0;
      for await (const page of undecoded ? pages(0n, undecoded) : pages(0n, decoded))
        if ((seen += page.length) > count) return true;
      return false;
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
