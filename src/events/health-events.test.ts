import { describe, expect, it } from 'vitest';
import { decodeEvent, decodeStored } from './catalogue.js';
import { UndecodableEvent } from './errors.js';

const storedV1 = (data: Record<string, unknown>) => ({
  id: '0195f2a4-8c1e-7d3a-9b2f-5e6d7c8b9a03',
  stream: 'health-payments',
  revision: 0n,
  position: 1n,
  type: 'HealthSampleRecorded',
  data,
  metadata: {
    correlationId: '0195f2a4-8c1e-7d3a-9b2f-5e6d7c8b9a03',
    causationId: null,
    actor: 'prober',
    schemaVersion: 1,
    occurredAt: '2026-01-10T08:00:00.000Z',
  },
  recordedAt: new Date('2026-01-10T08:00:00.000Z'),
});

// Upcast data was never validated, so the store's trusted read upcasts and validates exactly as the full decode.
describe.each([
  ['decodeEvent', decodeEvent],
  ['decodeStored', decodeStored],
])('HealthSampleRecorded upcasting (%s)', (_, decode) => {
  it('reads a version 1 sample as version 2: percentages become ratios, degraded still answered', () => {
    const decoded = decode(
      storedV1({
        service: 'payments',
        instance: 'payments-1',
        timestamp: '2026-01-10T08:00:00.000Z',
        status: 'degraded',
        responseTimeMs: 850,
        errorRatePercent: 12.5,
        memoryPercent: 93,
      }),
    );
    expect(decoded.data).toEqual({
      service: 'payments',
      instance: 'payments-1',
      sampledAt: '2026-01-10T08:00:00.000Z',
      healthy: true,
      healthLatencyMs: 850,
      errorRate: 0.125,
      memory: { usedRatio: 0.93 },
    });
    expect(decoded.metadata.schemaVersion).toBe(1);
  });

  it('maps an unhealthy version 1 sample to healthy: false and leaves absent figures absent', () => {
    const decoded = decode(
      storedV1({
        service: 'payments',
        instance: 'i',
        timestamp: '2026-01-10T08:00:00Z',
        status: 'unhealthy',
        responseTimeMs: 5000,
      }),
    );
    expect(decoded.data).toEqual({
      service: 'payments',
      instance: 'i',
      sampledAt: '2026-01-10T08:00:00Z',
      healthy: false,
      healthLatencyMs: 5000,
    });
  });

  it('refuses a version 1 sample that was not of the version 1 shape', () => {
    expect(() => decode(storedV1({ service: 'payments', status: 'fine' }))).toThrow(UndecodableEvent);
    expect(() => decode(storedV1({ service: 'payments', status: 'fine' }))).toThrow(/cannot be upcast from version 1/);
  });
});
