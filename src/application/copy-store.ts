import { createHash } from 'node:crypto';
import { storeHistory } from '../audit/store-history.js';
import { EventStoreError, StreamDeleted } from '../event-store/errors.js';
import type { EventStore, RecordedEvent, StreamMetadata } from '../event-store/event-store.js';
import { eventContent, historyUpTo } from './history-digest.js';

/** The target holds something other than the start of the source's history; nothing was written. */
export class StoreCopyRefused extends EventStoreError {
  readonly code = 'STORE_COPY_REFUSED';
  constructor(detail: string) {
    super(`StoreCopyRefused: ${detail}`);
  }
}

/** After the copy, the two histories differ: the target must not be used in place of the source. */
export class StoreCopyMismatch extends EventStoreError {
  readonly code = 'STORE_COPY_MISMATCH';
  constructor(detail: string) {
    super(`StoreCopyMismatch: ${detail}; do not switch to the target — keep both stores as they are and report it`);
  }
}

/** Stopped on request between two appends: what was copied stays, and the next run resumes after it. */
export class StoreCopyInterrupted extends EventStoreError {
  readonly code = 'STORE_COPY_INTERRUPTED';
  constructor(readonly copied: number) {
    super(`StoreCopyInterrupted: stopped after ${copied} events copied; run the same command again to resume`);
  }
}

export interface CopyProgress {
  /** Events in the target so far (those a previous run copied included); reported once before copying. */
  readonly events: number;
  /** Position in the source of the last event copied, and the source's head when the copy began. */
  readonly position: bigint;
  readonly head: bigint;
}

export interface CopyStoreOptions {
  readonly onProgress?: (progress: CopyProgress) => void;
  /** Checked between appends. */
  readonly signal?: AbortSignal;
  /** Most events one append carries (one source append is never merged with another's stream). */
  readonly batchSize?: number;
}

export interface CopyReport {
  /** Events in both histories, up to the source's head when the copy began. */
  readonly events: number;
  /** Appended by this run; the rest were already in the target (a resumed copy). */
  readonly copied: number;
  readonly streams: number;
  /** Streams whose retention (maxAge, maxCount) was carried over. */
  readonly retention: number;
  readonly deleted: number;
  /** SHA-256 of the whole history in order, the same on both sides. */
  readonly digest: string;
  readonly head: bigint;
}

const describeEvent = (e: RecordedEvent | undefined): string =>
  e ? `${e.id} (${e.stream}@${e.revision} ${e.type} at ${e.recordedAt.toISOString()})` : 'nothing';

const sameMetadata = (a: StreamMetadata, b: StreamMetadata) =>
  a.maxAgeSeconds === b.maxAgeSeconds && a.maxCount === b.maxCount;

/** A stream's retention, or 'deleted'. */
async function streamState(store: EventStore, stream: string): Promise<StreamMetadata | 'deleted'> {
  try {
    return await store.getStreamMetadata(stream);
  } catch (error) {
    if (error instanceof StreamDeleted) return 'deleted';
    throw error;
  }
}

/**
 * Copies the whole history of `source` into `target`: every event with its id, type, data,
 * metadata and original recordedAt, in `$all` order (the archive retention wrote included), then
 * each stream's retention and deletion; then reads both back and compares them event by event.
 *
 * Resumable: the target's history must be the start of the source's (checked before anything is
 * written), and the copy goes on after it. Appends carry the source's revisions as expected
 * revisions and its event ids, so a retried append writes nothing twice and no gap can form.
 */
export async function copyStore(
  source: EventStore,
  target: EventStore,
  options: CopyStoreOptions = {},
): Promise<CopyReport> {
  const batchSize = options.batchSize ?? 500;
  const head = await source.headPosition();
  const from = historyUpTo(storeHistory(source).readAll(), head)[Symbol.asyncIterator]();
  /** The target's last revision of each stream: the expected revision of its next append. */
  const revisions = new Map<string, bigint>();
  let events = 0;
  let position = 0n;
  for await (const there of storeHistory(target).readAll()) {
    const next = await from.next();
    if (next.done || eventContent(next.value) !== eventContent(there)) {
      throw new StoreCopyRefused(
        `the target is not empty and is not the start of the source's history: its event #${events + 1} is ` +
          `${describeEvent(there)}, the source's is ${describeEvent(next.done ? undefined : next.value)}; ` +
          'copy into an empty store (a target a copy of this same source left unfinished is resumed)',
      );
    }
    revisions.set(there.stream, there.revision);
    position = next.value.position;
    events += 1;
  }
  const already = events;
  options.onProgress?.({ events, position, head });

  let batch: RecordedEvent[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const first = batch[0]!;
    const expected = revisions.get(first.stream) ?? 'no_stream';
    const newEvents = batch.map(({ id, type, data, metadata }) => ({ id, type, data, metadata }));
    const result = await target.append(first.stream, newEvents, expected, { recordedAt: first.recordedAt });
    revisions.set(first.stream, result.nextExpectedRevision);
    events += batch.length;
    options.onProgress?.({ events, position: batch[batch.length - 1]!.position, head });
    batch = [];
    if (options.signal?.aborted) throw new StoreCopyInterrupted(events - already);
  };
  for (let next = await from.next(); !next.done; next = await from.next()) {
    const event = next.value;
    const first = batch[0];
    const joins =
      first &&
      first.stream === event.stream &&
      first.recordedAt.getTime() === event.recordedAt.getTime() &&
      batch.length < batchSize;
    if (!joins) await flush();
    batch.push(event);
  }
  await flush();

  let retention = 0;
  let deleted = 0;
  for (const stream of revisions.keys()) {
    const wanted = await streamState(source, stream);
    const current = await streamState(target, stream);
    if (wanted === 'deleted') {
      deleted += 1;
      if (current !== 'deleted') await target.deleteStream(stream, 'any');
    } else {
      if (wanted.maxAgeSeconds !== undefined || wanted.maxCount !== undefined) retention += 1;
      // Also clears retention the source no longer has (a resumed copy of a changed source).
      if (current === 'deleted' || !sameMetadata(wanted, current)) await target.setStreamMetadata(stream, wanted);
    }
  }

  const digest = await verify(source, target, head, revisions.keys());
  return { events, copied: events - already, streams: revisions.size, retention, deleted, digest, head };
}

/**
 * Reads both histories again, side by side, hashing each on its own: counts, order and content
 * must match, and so must each stream's retention and deletion. Returns the common digest.
 */
async function verify(source: EventStore, target: EventStore, head: bigint, streams: Iterable<string>) {
  const sourceHash = createHash('sha256');
  const targetHash = createHash('sha256');
  const theirs = storeHistory(target).readAll()[Symbol.asyncIterator]();
  let count = 0;
  let targetCount = 0;
  let firstDifference: string | undefined;
  const ourEvents = historyUpTo(storeHistory(source).readAll(), head)[Symbol.asyncIterator]();
  for (;;) {
    const [ours, next] = [await ourEvents.next(), await theirs.next()];
    if (ours.done && next.done) break;
    if (!ours.done) sourceHash.update(eventContent(ours.value)).update('\n');
    if (!next.done) targetHash.update(eventContent(next.value)).update('\n');
    count += ours.done ? 0 : 1;
    targetCount += next.done ? 0 : 1;
    if (!firstDifference && (ours.done || next.done || eventContent(next.value) !== eventContent(ours.value)))
      firstDifference =
        `event #${Math.max(count, targetCount)}: source ${describeEvent(ours.value)}, ` +
        `target ${describeEvent(next.value)}`;
  }
  const digests = [sourceHash.digest('hex'), targetHash.digest('hex')];
  if (firstDifference) {
    throw new StoreCopyMismatch(
      `${count} events in the source, ${targetCount} in the target, sha256 ${digests[0]} against ` +
        `${digests[1]}; first difference at ${firstDifference}`,
    );
  }
  for (const stream of streams) {
    const [wanted, got] = [await streamState(source, stream), await streamState(target, stream)];
    const same = wanted === 'deleted' || got === 'deleted' ? wanted === got : sameMetadata(wanted, got);
    if (!same)
      throw new StoreCopyMismatch(
        `stream "${stream}" is ${JSON.stringify(wanted)} in the source but ${JSON.stringify(got)} in the target`,
      );
  }
  return digests[0]!;
}
