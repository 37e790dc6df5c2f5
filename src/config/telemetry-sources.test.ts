import { describe, expect, it } from 'vitest';
import type { FleetConfig } from './fleet-config.js';
import { kafkaConfigSchema } from './kafka-config.js';
import { PushTelemetryNeedsKafka, pushingServicesHeard, servicesFedBy } from './telemetry-sources.js';

const service = (telemetry: 'probe' | 'push') =>
  ({ driver: 'process', releasesDir: '/r', port: 0, warmStandby: true, telemetry }) as const;
const fleet = {
  services: { orders: service('push'), payments: service('probe'), billing: service('push') },
  probe: { intervalSeconds: 10, timeoutSeconds: 5 },
} as FleetConfig;
const kafka = kafkaConfigSchema.parse({ brokers: ['127.0.0.1:9092'] });

describe('telemetry sources of a fleet', () => {
  it('probes only the services that do not push their own samples', () => {
    expect(servicesFedBy(fleet, 'probe')).toEqual(['payments']);
    expect(servicesFedBy(fleet, 'push')).toEqual(['orders', 'billing']);
  });

  it('refuses pushing services with no Kafka to hear them, saying what to set', () => {
    expect(() => pushingServicesHeard(fleet, 'fleet.yaml', undefined)).toThrow(PushTelemetryNeedsKafka);
    expect(() => pushingServicesHeard(fleet, 'fleet.yaml', undefined)).toThrow(
      /orders, billing in fleet\.yaml push .*Kafka is not configured: set kafka\.brokers .*FAILSAFE_KAFKA_BROKERS/,
    );
    const off = { ...kafka, telemetry: { ...kafka.telemetry, enabled: false } };
    expect(() => pushingServicesHeard(fleet, 'fleet.yaml', off)).toThrow(/kafka\.telemetry\.enabled is false/);
    expect(pushingServicesHeard(fleet, 'fleet.yaml', kafka)).toEqual(['orders', 'billing']);
    const probedOnly = { ...fleet, services: { payments: service('probe') } } as FleetConfig;
    expect(pushingServicesHeard(probedOnly, 'fleet.yaml', undefined)).toEqual([]);
  });
});
