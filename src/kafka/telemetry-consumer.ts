import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import type { KafkaConfig } from '../config/kafka-config.js';
import type { EventStore } from '../event-store/event-store.js';
import { createKafka } from './kafka-client.js';
import { TelemetryRecorder, type TelemetryKind } from './telemetry-recorder.js';

export type TelemetryOutcome = 'recorded' | 'duplicate' | 'dead_lettered';

/** connecting: not consuming yet (or again), e.g. the broker is down; it keeps trying. */
export type TelemetryConsumerState = 'connecting' | 'consuming' | 'stopped';

export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  /** Messages published and not yet recorded and committed, as of the last batch. */
  readonly lag: number;
}

export interface TelemetryConsumerStatus {
  readonly state: TelemetryConsumerState;
  readonly lag: readonly PartitionLag[];
  /** Why it is not consuming, or the last batch it had to retry. */
  readonly lastError?: string;
}

export interface TelemetryConsumerOptions {
  readonly kafka: KafkaConfig;
  readonly store: EventStore;
  readonly log?: (line: string) => void;
  readonly onMessages?: (topic: string, outcome: TelemetryOutcome, count: number) => void;
  /** Kafka client tuning for benchmarks and tests; the defaults suit telemetry. */
  readonly maxBytesPerPartition?: number;
}

/** Backoff between attempts at a broker or a store that is down: never a busy loop, never longer than this. */
const MAX_RETRY_MS = 10_000;
const FIRST_RETRY_MS = 250;

/**
 * The consumer group reading fleet telemetry: health samples and deployment notices, recorded in
 * the store by `TelemetryRecorder`; what it refuses goes to the dead-letter topic with its reason.
 * A batch's offsets are committed only once its events are durable in the store and its refusals
 * acknowledged by the dead-letter topic: a crash at any point means a redelivery, never a loss,
 * and a redelivery records nothing twice (event ids come from message ids).
 */
export class TelemetryConsumer {
  private readonly kafka: Kafka;
  private readonly recorder: TelemetryRecorder;
  private readonly stopping = new AbortController();
  private readonly lag = new Map<string, PartitionLag>();
  private state: TelemetryConsumerState = 'connecting';
  private lastError: string | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: TelemetryConsumerOptions) {
    this.kafka = createKafka(options.kafka, options.log);
    this.recorder = new TelemetryRecorder(options.store, options.kafka.telemetry.maxMessageBytes);
  }

  /** Starts in the background: a broker down now delays consuming, never Failsafe's start. */
  start(): void {
    this.loop ??= this.connectLoop();
  }

  status(): TelemetryConsumerStatus {
    const lag = [...this.lag.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    return { state: this.state, lag, ...(this.lastError !== undefined && { lastError: this.lastError }) };
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    this.state = 'stopped';
  }

  private get log(): (line: string) => void {
    return this.options.log ?? (() => {});
  }

  private async connectLoop(): Promise<void> {
    for (let attempt = 0; !this.stopping.signal.aborted; attempt += 1) {
      const { telemetry } = this.options.kafka;
      const consumer = this.kafka.consumer({
        groupId: telemetry.groupId,
        maxBytesPerPartition: this.options.maxBytesPerPartition ?? 2 * 1024 * 1024,
        // Batches fill while the previous one is written: wait a little for more rather than fetch many small ones.
        maxWaitTimeInMs: 200,
      });
      const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      try {
        const crashed = new Promise<Error>((resolve) => {
          consumer.on(consumer.events.CRASH, ({ payload }) => {
            if (!payload.restart) resolve(payload.error);
          });
        });
        consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => this.assigned(payload.memberAssignment));
        await this.ensureTopics();
        await producer.connect();
        await consumer.connect();
        // A new group starts at the beginning: samples published before Failsafe first ran are recorded too.
        await consumer.subscribe({ topics: [telemetry.samplesTopic, telemetry.noticesTopic], fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          eachBatch: (payload) => this.batch(payload, consumer, producer),
        });
        this.state = 'consuming';
        this.lastError = undefined;
        attempt = 0;
        const stopped = new Promise<undefined>((resolve) =>
          this.stopping.signal.addEventListener('abort', () => resolve(undefined), { once: true }),
        );
        const error = await Promise.race([crashed, stopped]);
        if (error) throw error;
      } catch (error) {
        this.state = 'connecting';
        this.lastError = (error as Error).message;
        this.log(`kafka telemetry: not consuming (${this.lastError}); trying again`);
      } finally {
        await consumer.disconnect().catch(() => {});
        await producer.disconnect().catch(() => {});
      }
      await sleep(Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** attempt), undefined, {
        signal: this.stopping.signal,
      }).catch(() => {});
    }
  }

  /** Creates the topics a fresh cluster lacks (the broker's defaults for partitions and replicas). */
  private async ensureTopics(): Promise<void> {
    const { samplesTopic, noticesTopic, deadLetterTopic } = this.options.kafka.telemetry;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = [samplesTopic, noticesTopic, deadLetterTopic].filter((t) => !existing.has(t));
      if (missing.length > 0)
        await admin.createTopics({ topics: missing.map((topic) => ({ topic })), waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
  }

  /** Lag is reported for the partitions this member holds now. */
  private assigned(assignment: Record<string, number[]>): void {
    const held = new Set(Object.entries(assignment).flatMap(([topic, ps]) => ps.map((p) => `${topic}:${p}`)));
    for (const key of this.lag.keys()) if (!held.has(key)) this.lag.delete(key);
  }

  private kindOf(topic: string): TelemetryKind {
    return topic === this.options.kafka.telemetry.samplesTopic ? 'health_sample' : 'deployment_notice';
  }

  private async batch(payload: EachBatchPayload, consumer: Consumer, producer: Producer): Promise<void> {
    const { batch, heartbeat, isRunning, isStale, resolveOffset } = payload;
    const { topic, partition, messages } = batch;
    if (messages.length === 0) return;
    const { deadLetterTopic } = this.options.kafka.telemetry;
    const lastOffset = messages[messages.length - 1]!.offset;
    // Until the store and the dead-letter topic have it all: retried in place, nothing committed meanwhile.
    for (let attempt = 0; ; attempt += 1) {
      if (this.stopping.signal.aborted || !isRunning() || isStale())
        throw new Error(`batch ${topic}/${partition} left for a redelivery: the consumer is stopping or lost it`);
      try {
        const outcome = await this.recorder.record(
          this.kindOf(topic),
          messages.map((m) => m.value),
        );
        // Counted once written: a later step may fail (the commit, with the broker gone), and the
        // redelivery then finds them already recorded, duplicates of this delivery.
        const count = this.options.onMessages;
        count?.(topic, 'recorded', outcome.recorded);
        count?.(topic, 'duplicate', outcome.duplicates);
        if (outcome.refused.length > 0) {
          await producer.send({
            topic: deadLetterTopic,
            acks: -1,
            messages: outcome.refused.map(({ index, reason }) => {
              const m = messages[index]!;
              const headers = { reason, topic, partition: String(partition), offset: m.offset };
              return { key: m.key, value: m.value, headers };
            }),
          });
          count?.(topic, 'dead_lettered', outcome.refused.length);
        }
        resolveOffset(lastOffset);
        await consumer.commitOffsets([{ topic, partition, offset: (BigInt(lastOffset) + 1n).toString() }]);
        this.lag.set(`${topic}:${partition}`, {
          topic,
          partition,
          lag: Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(lastOffset) - 1n)),
        });
        return;
      } catch (error) {
        this.lastError = `batch ${topic}/${partition} at ${batch.firstOffset()}: ${(error as Error).message}`;
        this.log(`kafka telemetry: ${this.lastError}; retrying it`);
        await sleep(Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** attempt), undefined, {
          signal: this.stopping.signal,
        }).catch(() => {});
        // Keeps this member in the group while it waits; throws if the group moved on (a rebalance).
        await heartbeat();
      }
    }
  }
}
