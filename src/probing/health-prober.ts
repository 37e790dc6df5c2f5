import type { TargetDriver } from '../drivers/target-driver.js';
import type { EventStore } from '../event-store/event-store.js';
import { encodeEvent } from '../events/catalogue.js';
import { assertProbeTarget, probeInstance } from './instance-probe.js';
import type { MetricSample } from './prometheus-text.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { healthStream } from '../domain/streams.js';

export interface HealthProberOptions {
  readonly services: readonly string[];
  /** The seeds' default is 10 s; as low as 1 s for fast detection. */
  readonly intervalMs: number;
  readonly timeoutMs?: number;
  readonly allowedHosts?: readonly string[];
  readonly clock?: Clock;
  readonly log?: (line: string) => void;
}

/** Samples are many: each service's stream keeps a week, at most 100,000 of them (probed or pushed to Kafka). */
export const RETENTION = { maxAgeSeconds: 7 * 24 * 3600, maxCount: 100_000 };
export const LOOPBACK = ['127.0.0.1', 'localhost', '::1'];

/** Probes every instance of every service at an interval and records each probe as a HealthSampleRecorded event. */
export class HealthProber {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> = Promise.resolve();
  private readonly previous = new Map<string, readonly MetricSample[]>();

  constructor(
    private readonly store: EventStore,
    private readonly driver: TargetDriver,
    private readonly options: HealthProberOptions,
  ) {}

  async start(): Promise<void> {
    for (const service of this.options.services) await this.store.setStreamMetadata(healthStream(service), RETENTION);
    this.timer = setInterval(() => {
      this.round = this.round
        .then(async () => {
          await this.probeAll();
        })
        .catch((error: unknown) => this.options.log?.(`prober: ${(error as Error).message}`));
    }, this.options.intervalMs);
  }

  /** Probes every instance once and appends the samples; returns how many were recorded. */
  async probeAll(): Promise<number> {
    const now = (this.options.clock ?? systemClock).now();
    let recorded = 0;
    for (const service of this.options.services) {
      const instances = await this.driver.instances(service);
      const outcomes = await Promise.all(
        instances.map(async (instance) => {
          assertProbeTarget(instance.url, this.options.allowedHosts ?? LOOPBACK);
          const outcome = await probeInstance(
            instance,
            this.previous.get(instance.id),
            now,
            this.options.timeoutMs ?? 5_000,
          );
          if (outcome.scrape) this.previous.set(instance.id, outcome.scrape);
          return outcome.sample;
        }),
      );
      if (outcomes.length === 0) continue;
      const events = outcomes.map((data) =>
        encodeEvent({ type: 'HealthSampleRecorded', data }, { actor: 'failsafe:prober', occurredAt: now }),
      );
      await this.store.append(healthStream(service), events, 'any');
      recorded += events.length;
    }
    return recorded;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.round;
  }
}
