import type { NewEvent } from '../src/event-store/event-store.js';
import { encodeEvent } from '../src/events/catalogue.js';

const base = Date.UTC(2026, 10, 24);

/** A realistic, valid health sample of `service` (about 450 bytes of JSON), the n-th at one a second. */
export const healthSampleData = (service: string, n: number) => ({
  service,
  instance: `${service}-1`,
  release: 'v1.4.2',
  sampledAt: new Date(base + n * 1000).toISOString(),
  healthy: n % 97 !== 0,
  healthLatencyMs: 5 + (n % 13),
  mcp: { protocolVersion: '2025-11-25', toolCount: 6, initializeLatencyMs: 20 + (n % 7) },
  requests: { total: 1000 + (n % 50), errors: n % 11 },
  errorRate: (n % 11) / 1000,
  latencyMs: { p50: 40, p95: 180 + (n % 40), p99: 450 },
  memory: { usedRatio: 0.4 + (n % 10) / 100 },
});

/** Its HealthSampleRecorded event, the store's most frequent event. */
export function healthSampleEvent(service: number, n: number): NewEvent {
  return encodeEvent(
    { type: 'HealthSampleRecorded', data: healthSampleData(`svc-${service}`, n) },
    { actor: 'prober', occurredAt: new Date(base + n * 1000) },
  );
}
