import type { FleetConfig } from './fleet-config.js';
import type { KafkaConfig } from './kafka-config.js';

/** The services of the fleet whose samples come from the given source (`telemetry:` in the fleet file). */
export const servicesFedBy = (fleet: FleetConfig, source: 'probe' | 'push'): string[] =>
  Object.entries(fleet.services).flatMap(([name, s]) => (s.telemetry === source ? [name] : []));

/** A fleet with services that push their telemetry, and nothing to receive it: Failsafe would be blind to them. */
export class PushTelemetryNeedsKafka extends Error {
  readonly code = 'PUSH_TELEMETRY_NEEDS_KAFKA';
  constructor(
    readonly fleetPath: string,
    readonly services: readonly string[],
    kafkaConfigured: boolean,
  ) {
    const missing = kafkaConfigured
      ? 'kafka.telemetry.enabled is false: set it to true'
      : 'Kafka is not configured: set kafka.brokers in the config file, or FAILSAFE_KAFKA_BROKERS';
    super(
      `PushTelemetryNeedsKafka: ${services.join(', ')} in ${fleetPath} push their telemetry to Kafka ` +
        `(telemetry: push), but ${missing}; or set telemetry: probe for them`,
    );
    this.name = 'PushTelemetryNeedsKafka';
  }
}

/** Refuses a fleet whose pushing services nobody would hear; returns those services. */
export function pushingServicesHeard(fleet: FleetConfig, fleetPath: string, kafka: KafkaConfig | undefined): string[] {
  const pushing = servicesFedBy(fleet, 'push');
  if (pushing.length > 0 && !kafka?.telemetry.enabled) throw new PushTelemetryNeedsKafka(fleetPath, pushing, !!kafka);
  return pushing;
}
