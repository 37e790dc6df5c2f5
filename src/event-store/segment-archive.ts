import {
  constants,
  closeSync,
  copyFileSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { ArchiveCorrupt } from './errors.js';
import type { ArchiveCursor, EventArchive } from './event-archive.js';
import type { JsonObject, RecordedEvent } from './event-store.js';
import { recordedEventToJson } from './recorded-event-json.js';

const gunzipAsync = promisify(gunzip);

/** Bounds the memory a reader needs per open segment. */
const SEGMENT_EVENTS = 5_000;
const SEGMENT_NAME = /^events-(\d{19})-(\d{19})\.ndjson\.gz$/;
const pad = (position: bigint) => position.toString().padStart(19, '0');

interface Segment {
  readonly name: string;
  readonly first: bigint;
  readonly last: bigint;
}

const decimal = z.string().regex(/^\d+$/);
const archivedLine = z.strictObject({
  id: z.string().min(1),
  stream: z.string().min(1),
  revision: decimal,
  position: decimal,
  type: z.string().min(1),
  data: z.record(z.string(), z.unknown()),
  metadata: z.record(z.string(), z.unknown()),
  recordedAt: z.iso.datetime(),
});

/** Flushes a file or a folder (a rename in it) to disk. */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The archive as gzip'd NDJSON segment files in one folder, each holding one trim's events of one
 * stream in position order and named for its first and last position. A segment is written to a
 * temporary name, fsynced and renamed, so a crash never leaves half a segment under a real name.
 */
export class SegmentArchive implements EventArchive {
  constructor(readonly folder: string) {}

  /** The archive of the store at `storePath`: the folder `<storePath>.archive` beside it. */
  static nextTo(storePath: string): SegmentArchive {
    return new SegmentArchive(`${storePath}.archive`);
  }

  write(events: readonly RecordedEvent[]): void {
    if (events.length === 0) return;
    if (mkdirSync(this.folder, { recursive: true }) !== undefined) fsyncPath(dirname(this.folder));
    const ordered = [...events].sort((a, b) => (a.position < b.position ? -1 : 1));
    for (let start = 0; start < ordered.length; start += SEGMENT_EVENTS) {
      const chunk = ordered.slice(start, start + SEGMENT_EVENTS);
      const name = `events-${pad(chunk[0]!.position)}-${pad(chunk[chunk.length - 1]!.position)}.ndjson.gz`;
      const lines = chunk.map((event) => `${JSON.stringify(recordedEventToJson(event))}\n`).join('');
      const temporary = join(this.folder, `${name}.tmp`);
      const fd = openSync(temporary, 'w');
      try {
        writeSync(fd, gzipSync(lines));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      // A retried trim of the same events renames identical content over the first copy.
      renameSync(temporary, join(this.folder, name));
    }
    fsyncPath(this.folder);
  }

  /**
   * Copies the segments holding nothing after `head` into `folder` (a backup's archive), and says how
   * many. A named segment is never rewritten with other content, so a plain file copy is a consistent
   * one; a segment reaching past `head` was trimmed after the backup's snapshot, whose live events it holds.
   */
  copyUpTo(head: bigint, folder: string): number {
    const segments = this.segments().filter((segment) => segment.last <= head);
    if (segments.length === 0) return 0;
    mkdirSync(folder, { recursive: true });
    for (const { name } of segments) {
      copyFileSync(join(this.folder, name), join(folder, name), constants.COPYFILE_EXCL);
      fsyncPath(join(folder, name));
    }
    fsyncPath(folder);
    return segments.length;
  }

  cursor(fromPosition: bigint): ArchiveCursor {
    return new SegmentCursor(
      () => this.segments(),
      (segment) => this.load(segment),
      fromPosition,
    );
  }

  async readEvents(ids: readonly string[]): Promise<ReadonlyMap<string, RecordedEvent>> {
    const wanted = new Set(ids.map((id) => id.toLowerCase()));
    const found = new Map<string, RecordedEvent>();
    for (const segment of this.segments()) {
      if (found.size === wanted.size) break;
      for (const event of await this.load(segment)) if (wanted.has(event.id)) found.set(event.id, event);
    }
    return found;
  }

  private segments(): Segment[] {
    let names: string[];
    try {
      names = readdirSync(this.folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return names.flatMap((name) => {
      const match = SEGMENT_NAME.exec(name);
      return match ? [{ name, first: BigInt(match[1]!), last: BigInt(match[2]!) }] : [];
    });
  }

  private async load(segment: Segment): Promise<RecordedEvent[]> {
    const path = join(this.folder, segment.name);
    const compressed = await readFile(path);
    let text: string;
    try {
      text = (await gunzipAsync(compressed)).toString('utf8');
    } catch (error) {
      throw new ArchiveCorrupt(path, `not a complete gzip file: ${(error as Error).message}`);
    }
    if (!text.endsWith('\n')) throw new ArchiveCorrupt(path, 'its last line is cut short');
    const events = text
      .slice(0, -1)
      .split('\n')
      .map((line, index) => {
        let parsed: ReturnType<typeof archivedLine.safeParse>;
        try {
          parsed = archivedLine.safeParse(JSON.parse(line));
        } catch {
          throw new ArchiveCorrupt(path, `line ${index + 1} is not JSON`);
        }
        if (!parsed.success) {
          const problem = parsed.error.issues[0]!.message;
          throw new ArchiveCorrupt(path, `line ${index + 1} is not an archived event: ${problem}`);
        }
        const e = parsed.data;
        return {
          id: e.id,
          stream: e.stream,
          revision: BigInt(e.revision),
          position: BigInt(e.position),
          type: e.type,
          data: e.data as JsonObject,
          metadata: e.metadata as JsonObject,
          recordedAt: new Date(e.recordedAt),
        };
      });
    const inOrder = events.every((e, i) => i === 0 || e.position > events[i - 1]!.position);
    if (!inOrder || events[0]!.position !== segment.first || events[events.length - 1]!.position !== segment.last) {
      throw new ArchiveCorrupt(path, 'its events do not run in position order between the positions its name gives');
    }
    return events;
  }
}

type OpenSegment = { readonly events: readonly RecordedEvent[]; index: number };
const head = (segment: OpenSegment) => segment.events[segment.index]!.position;

/** A k-way merge of the segments by position that opens a segment only once the merge reaches its first position. */
class SegmentCursor implements ArchiveCursor {
  private readonly listed = new Set<string>();
  private readonly pending: Segment[] = [];
  private readonly open: OpenSegment[] = [];
  private last: bigint;

  constructor(
    private readonly segments: () => Segment[],
    private readonly load: (segment: Segment) => Promise<RecordedEvent[]>,
    private readonly fromPosition: bigint,
  ) {
    this.last = fromPosition - 1n;
  }

  private lowest(): OpenSegment | undefined {
    return this.open.reduce<OpenSegment | undefined>((min, o) => (!min || head(o) < head(min) ? o : min), undefined);
  }

  async *upTo(bound: bigint): AsyncIterable<RecordedEvent> {
    for (const segment of this.segments()) {
      if (this.listed.has(segment.name)) continue;
      this.listed.add(segment.name);
      if (segment.last >= this.fromPosition) this.pending.push(segment);
    }
    this.pending.sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
    for (;;) {
      let min = this.lowest();
      while (this.pending.length > 0 && this.pending[0]!.first <= (min ? head(min) : bound)) {
        this.open.push({ events: await this.load(this.pending.shift()!), index: 0 });
        min = this.lowest();
      }
      if (!min || head(min) > bound) return;
      const event = min.events[min.index]!;
      min.index += 1;
      if (min.index === min.events.length) this.open.splice(this.open.indexOf(min), 1);
      // A retried trim archives some events twice: the first copy counts.
      if (event.position <= this.last) continue;
      this.last = event.position;
      yield event;
    }
  }
}
