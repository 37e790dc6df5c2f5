import { setTimeout as sleep } from 'node:timers/promises';
import { type Kafka, type Message, Partitioners, type Producer } from 'kafkajs';
import type { EventStore } from '../event-store/event-store.js';
import type { CheckpointStore } from '../runtime/checkpoint-store.js';
import { type FeedMessage, feedMessage } from './event-feed-message.js';

/**
 * - `following`: everything in the store is acknowledged; waiting for the next append.
 * - `publishing`: a batch is on its way.
 * - `waiting_for_broker`: the broker has not answered (a connection, or a batch's acknowledgement)
 *   for longer than `stalledAfterMs`, or the last attempt failed and is retried after a backoff
 *   (broker down, store unreachable).
 * - `stopped`: not running.
 */
export type EventFeedState = 'following' | 'publishing' | 'waiting_for_broker' | 'stopped';

export interface EventFeedStatus {
  readonly state: EventFeedState;
  readonly topic: string;
  /** Global position of the last event the broker acknowledged (the checkpoint); 0n before the first. */
  readonly position: bigint;
  /** Events acknowledged since this process started (republished ones included). */
  readonly published: number;
  readonly lastError?: string | undefined;
}

/** The status, with how far the store's end is ahead of the acknowledged position: for /metrics and /ready. */
export interface EventFeedReport extends EventFeedStatus {
  readonly headPosition: bigint;
  readonly lagEvents: number;
}

export interface EventFeedRelayOptions {
  readonly store: EventStore;
  /** From `createKafka`. */
  readonly kafka: Kafka;
  readonly topic: string;
  readonly checkpoints: CheckpointStore;
  readonly log: (line: string) => void;
  /** Events per produce request (default 1,000). */
  readonly batchSize?: number;
  /**
   * Bytes per produce request (default 960,000): under the broker's `message.max.bytes` (1 MiB by
   * default), which bounds one partition's share, and a whole batch may go to one partition.
   */
  readonly maxBatchBytes?: number;
  /** A batch unacknowledged for this long shows as `waiting_for_broker` (default 5 s). */
  readonly stalledAfterMs?: number;
  /** Backoff after a failed attempt: doubles from `initialMs` up to `maxMs` (default 250 ms to 10 s). */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** Called with the size of each batch the broker acknowledged (a metric's counter). */
  readonly onPublished?: (events: number) => void;
}

interface Batch {
  readonly messages: Message[];
  /** The position of its last event: the checkpoint once it is acknowledged. */
  readonly last: bigint;
}

/** About what a message takes in a record batch (key, value, headers, and each record's own fields). */
const messageBytes = (message: FeedMessage): number => {
  let bytes = Buffer.byteLength(message.key) + Buffer.byteLength(message.value) + 16;
  for (const name in message.headers) bytes += name.length + Buffer.byteLength(message.headers[name]!) + 2;
  return bytes;
};

/** The checkpoint's name: per topic, as a position acknowledged by one topic says nothing of another. */
export const feedCheckpointName = (topic: string) => `kafka-feed:${topic}`;

const CHECKPOINT_VERSION = 1;

/**
 * Publishes every event of `$all`, in order, to one Kafka topic keyed by stream, from a stored
 * checkpoint. The checkpoint moves only once the broker has acknowledged a batch (acks -1, the
 * idempotent producer with one request in flight: no reordering, no duplicates from the producer's
 * own retries), so a crash republishes at most the batch in flight and never skips one: at least
 * once, deduped downstream by event id (see event-feed-message.ts). Nothing is ever skipped: a
 * broker that is down is waited for (kafkajs retries forever, then this relay with a backoff),
 * while the rest of Failsafe serves on.
 *
 * The checkpoint is the replica's own (its local checkpoints file). Replicas sharing one store do not
 * coordinate: each one with the feed enabled publishes everything, so consumers see an event once per
 * such replica. Dedupe by id still yields each stream in order (within a partition each replica's copy
 * is in order, so the first copy of an event precedes the first copy of the next), which makes this
 * correct but wasteful: the README says to enable the feed on one replica.
 */
export class EventFeedRelay {
  private position = 0n;
  private published = 0;
  private state: EventFeedState = 'stopped';
  private lastError: string | undefined;
  /** Since when the broker has been asked (to connect, or to acknowledge a batch) without an answer. */
  private waitingSince: number | undefined;
  private sending = false;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private producer: Producer | undefined;

  constructor(private readonly options: EventFeedRelayOptions) {}

  /** Loads the checkpoint and starts following in the background: a broker that is down does not hold it up. */
  async start(): Promise<void> {
    const checkpoint = await this.options.checkpoints.load(feedCheckpointName(this.options.topic));
    if (checkpoint?.version === CHECKPOINT_VERSION) this.position = checkpoint.position;
    this.state = 'publishing';
    this.options.log(`event feed: publishing $all to ${this.options.topic} after position ${this.position}`);
    this.loop = this.run();
  }

  status(): EventFeedStatus {
    const stalled =
      this.waitingSince !== undefined && performance.now() - this.waitingSince > (this.options.stalledAfterMs ?? 5_000);
    return {
      state: stalled ? 'waiting_for_broker' : this.state,
      topic: this.options.topic,
      position: this.position,
      published: this.published,
      lastError: this.lastError,
    };
  }

  async report(): Promise<EventFeedReport> {
    const headPosition = await this.options.store.headPosition();
    const status = this.status();
    const lag = headPosition - status.position;
    return { ...status, headPosition, lagEvents: Number(lag > 0n ? lag : 0n) };
  }

  private async run(): Promise<void> {
    const { signal } = this.stopping;
    /** Read and not yet acknowledged: sent again, the same messages, until it is. */
    let batch: Batch | undefined;
    /** The batch after it, read while the broker works on it (reading does not wait for acknowledgements). */
    let ahead: Promise<Batch> | undefined;
    let failures = 0;
    while (!signal.aborted) {
      try {
        batch ??= await (ahead ?? this.readBatch(this.position));
        ahead = undefined;
        if (batch.messages.length === 0) {
          batch = undefined;
          this.state = 'following';
          await this.waitForAppend();
          continue;
        }
        this.state = 'publishing';
        this.waitingSince = performance.now();
        const producer = this.producer ?? (await this.connect());
        this.sending = true;
        const sent = producer.send({ topic: this.options.topic, acks: -1, messages: batch.messages });
        const after = batch.last;
        // After the request is on its way: the store's reads are synchronous and would hold it back.
        ahead = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.readBatch(after));
        ahead.catch(() => {});
        await sent;
        this.sending = false;
        this.waitingSince = undefined;
        await this.options.checkpoints.save(feedCheckpointName(this.options.topic), {
          position: after,
          version: CHECKPOINT_VERSION,
          state: null,
        });
        this.position = after;
        this.published += batch.messages.length;
        this.options.onPublished?.(batch.messages.length);
        batch = undefined;
        if (failures > 0) this.options.log(`event feed: publishing again, at position ${after}`);
        failures = 0;
        this.lastError = undefined;
      } catch (error) {
        this.sending = false;
        this.waitingSince = undefined;
        ahead = undefined;
        if (signal.aborted) break;
        failures += 1;
        this.state = 'waiting_for_broker';
        this.lastError = (error as Error).message;
        const { initialMs, maxMs } = this.options.backoff ?? { initialMs: 250, maxMs: 10_000 };
        const wait = Math.min(maxMs, initialMs * 2 ** Math.min(failures - 1, 16));
        this.options.log(
          `event feed: ${this.lastError}; the ${batch?.messages.length ?? 'next'} events after position ` +
            `${this.position} are sent again in ${wait} ms (nothing is skipped)`,
        );
        // A fresh producer after a failure: a new producer id, so no sequence numbers left from the failed send.
        await this.disconnect();
        await sleep(wait, undefined, { signal }).catch(() => {});
      }
    }
    await this.disconnect();
  }

  private async connect(): Promise<Producer> {
    // Kept before it connects, so that stop() can disconnect a producer still trying to reach the broker.
    const producer = (this.producer = this.options.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Forever (the idempotent producer's default), but at most 5 s apart, so a broker back is used soon.
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 5_000 },
    }));
    await producer.connect();
    return producer;
  }

  private async disconnect(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect().catch(() => {});
  }

  /** The events after `position` as messages, as many as one produce request takes; none when caught up. */
  private async readBatch(position: bigint): Promise<Batch> {
    const { store, batchSize = 1_000, maxBatchBytes = 960_000 } = this.options;
    const messages: Message[] = [];
    let last = position;
    let bytes = 0;
    for await (const event of store.readAll({ fromPosition: position + 1n, maxCount: batchSize })) {
      const message = feedMessage(event);
      bytes += messageBytes(message);
      if (messages.length > 0 && bytes > maxBatchBytes) break;
      messages.push(message);
      last = event.position;
    }
    return { messages, last };
  }

  private async waitForAppend(): Promise<void> {
    const subscription = this.options.store.subscribe({ after: this.position });
    const close = () => void subscription.close();
    this.stopping.signal.addEventListener('abort', close);
    try {
      await subscription[Symbol.asyncIterator]().next();
    } finally {
      this.stopping.signal.removeEventListener('abort', close);
      await subscription.close();
    }
  }

  /**
   * Stops following. A batch in flight gets `graceMs` to be acknowledged (and checkpointed); after
   * that, or at once when none is in flight, the producer is disconnected, and whatever was not
   * acknowledged is sent again by the next start.
   */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopping.abort();
    if (!this.loop) return;
    const stopped = await Promise.race([this.loop.then(() => true), sleep(this.sending ? graceMs : 0, false)]);
    if (!stopped) {
      if (this.sending)
        this.options.log('event feed: the batch in flight was not acknowledged in time; the next start sends it again');
      await this.disconnect();
    }
    this.state = 'stopped';
  }
}
