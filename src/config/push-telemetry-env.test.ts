import { describe, expect, it } from 'vitest';
import { pushTelemetryEnv, readPushTelemetryEnv } from './push-telemetry-env.js';

const settings = {
  brokers: ['127.0.0.1:9092', 'kafka-2:9092'],
  topic: 'failsafe.telemetry.samples',
  service: 'orders',
  intervalMs: 1_000,
  timeoutMs: 5_000,
};

describe('the environment of an instance that pushes its telemetry', () => {
  it('reads back what the driver wrote', () => {
    expect(readPushTelemetryEnv(pushTelemetryEnv(settings))).toEqual(settings);
  });

  it('is absent for an instance that is probed', () => {
    expect(readPushTelemetryEnv({ PORT: '3000' })).toBeUndefined();
  });

  it('refuses an incomplete or bad one, naming each variable', () => {
    const env = { ...pushTelemetryEnv(settings), FAILSAFE_TELEMETRY_BROKERS: 'kafka', FAILSAFE_TELEMETRY_TOPIC: '' };
    expect(() => readPushTelemetryEnv(env)).toThrow(
      /^InvalidPushTelemetryEnv: FAILSAFE_TELEMETRY_BROKERS: kafka is not host:port; FAILSAFE_TELEMETRY_TOPIC: .*/,
    );
  });
});
