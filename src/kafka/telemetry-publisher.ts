import type { Producer } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import { v7 as uuidv7 } from 'uuid';
import type { EventData } from '../events/catalogue.js';
import { createKafka } from './kafka-client.js';
import { healthSampleMessage, TELEMETRY_SCHEMA_VERSION, type HealthSampleMessage } from './telemetry-message.js';

export interface TelemetryPublisherOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly clientId?: string;
  /**
   * Samples kept while the broker cannot take them; beyond this the oldest are dropped (a fresh
   * sample says more about the service than an old one). Default 1,000.
   */
  readonly maxBuffered?: number;
  /** The wait before trying to connect again after a failed attempt. Default 1 s. */
  readonly retryDelayMs?: number;
  readonly log?: (line: string) => void;
}

export interface PublisherStats {
  /** Samples the broker acknowledged (written to all in-sync replicas). */
  readonly acknowledged: number;
  /** Samples dropped because the buffer was full while the broker was out of reach. */
  readonly dropped: number;
  /** Samples waiting to be sent, or being sent. */
  readonly pending: number;
}

/** At most this many samples in one produce request. */
const BATCH = 500;

/**
 * Publishes a service's own health samples to the samples topic (message format v1), keyed by the
 * service so that its samples keep their order, each with a fresh id (the consumer's dedupe key).
 * Idempotent producer: kafkajs retries a send for as long as the broker is away, without
 * duplicating what it already wrote. A broker that is down never makes publishing throw or block:
 * it costs samples (the oldest, past `maxBuffered`), never the service that publishes them.
 */
export class TelemetryPublisher {
  private readonly producer: Producer;
  private readonly queue: HealthSampleMessage[] = [];
  private inFlight = 0;
  private acknowledged = 0;
  private dropped = 0;
  private stopping = false;
  private wake: (() => void) | undefined;
  private readonly loop: Promise<void>;

  constructor(private readonly options: TelemetryPublisherOptions) {
    const kafka = createKafka(
      { brokers: [...options.brokers], clientId: options.clientId ?? 'failsafe-push' },
      options.log,
    );
    // acks -1 and one request in flight: what kafkajs' idempotent producer needs to keep order without duplicates.
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    this.loop = this.run();
  }

  /** Queues a sample for the broker; returns the message it will be sent as. */
  publish(sample: EventData<'HealthSampleRecorded'>): HealthSampleMessage {
    const message = healthSampleMessage.parse({
      schemaVersion: TELEMETRY_SCHEMA_VERSION,
      kind: 'health_sample',
      id: uuidv7(),
      sample,
    });
    this.queue.push(message);
    this.trim();
    this.wake?.();
    return message;
  }

  stats(): PublisherStats {
    return {
      acknowledged: this.acknowledged,
      dropped: this.dropped,
      pending: this.queue.length + this.inFlight,
    };
  }

  private trim(): void {
    const over = this.queue.length - (this.options.maxBuffered ?? 1_000);
    if (over <= 0) return;
    this.queue.splice(0, over);
    this.dropped += over;
    this.options.log?.(`telemetry: buffer full, dropped the ${over} oldest sample(s) (${this.dropped} so far)`);
  }

  private async run(): Promise<void> {
    let connected = false;
    while (!(this.stopping && this.queue.length === 0)) {
      if (this.queue.length === 0) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
        continue;
      }
      const batch = this.queue.splice(0, BATCH);
      this.inFlight = batch.length;
      try {
        if (!connected) {
          await this.producer.connect();
          connected = true;
        }
        await this.producer.send({
          topic: this.options.topic,
          acks: -1,
          messages: batch.map((m) => ({ key: m.sample.service, value: JSON.stringify(m) })),
        });
        this.acknowledged += batch.length;
      } catch (error) {
        if (this.stopping) {
          this.dropped += batch.length + this.queue.length;
          this.queue.length = 0;
          return;
        }
        // Sent again as they are (same ids): should the broker have written them after all, the
        // consumer records each id once.
        this.queue.unshift(...batch);
        this.trim();
        this.options.log?.(`telemetry: could not publish ${batch.length} sample(s): ${(error as Error).message}`);
        await sleep(this.options.retryDelayMs ?? 1_000);
      } finally {
        this.inFlight = 0;
      }
    }
  }

  /**
   * Sends what is queued, for up to `flushTimeoutMs` (default 2 s), then disconnects: what was
   * still queued is dropped; a batch still in flight is counted as pending (its fate unknown).
   */
  async stop(flushTimeoutMs = 2_000): Promise<PublisherStats> {
    this.stopping = true;
    this.wake?.();
    const waiting = new AbortController();
    const flushed = await Promise.race([
      this.loop.then(() => true),
      sleep(flushTimeoutMs, false, { signal: waiting.signal }).catch(() => false),
    ]);
    waiting.abort();
    if (!flushed) {
      this.dropped += this.queue.length;
      this.queue.length = 0;
    }
    await this.producer.disconnect().catch(() => undefined);
    return this.stats();
  }
}
