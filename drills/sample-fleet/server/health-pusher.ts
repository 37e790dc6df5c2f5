import type { PushTelemetrySettings } from '../../../src/config/push-telemetry-env.js';
import { TelemetryPublisher } from '../../../src/kafka/telemetry-publisher.js';
import { probeInstance } from '../../../src/probing/instance-probe.js';
import type { MetricSample } from '../../../src/probing/prometheus-text.js';

export interface HealthPusher {
  readonly publisher: TelemetryPublisher;
  /** Stops sampling and flushes what is queued (briefly: a broker that is down is not waited for). */
  stop(): Promise<void>;
}

/**
 * Push mode: the server samples itself as Failsafe's prober would — the same probe of its own
 * /health, MCP handshake and /metrics (so the same counters, health check and figures) — and
 * publishes each sample to Kafka instead of waiting to be probed.
 */
export function pushHealthSamples(
  settings: PushTelemetrySettings,
  self: { readonly url: string; readonly release: string },
  log: (line: string) => void,
): HealthPusher {
  const publisher = new TelemetryPublisher({
    brokers: settings.brokers,
    topic: settings.topic,
    clientId: `failsafe-push-${settings.service}`,
    log,
  });
  const instance = {
    id: `${settings.service}-${process.pid}`,
    service: settings.service,
    release: self.release,
    url: self.url,
    startedAt: new Date().toISOString(),
  };
  let previous: readonly MetricSample[] | undefined;
  let round: Promise<void> = Promise.resolve();
  // Rounds never overlap: a slow self-probe delays the next sample rather than doubling up.
  const timer = setInterval(() => {
    round = round
      .then(async () => {
        const outcome = await probeInstance(instance, previous, new Date(), settings.timeoutMs);
        if (outcome.scrape) previous = outcome.scrape;
        publisher.publish(outcome.sample);
      })
      .catch((error: unknown) => log(`telemetry: no sample this round: ${(error as Error).message}`));
  }, settings.intervalMs);
  return {
    publisher,
    async stop() {
      clearInterval(timer);
      await round;
      await publisher.stop();
    },
  };
}
