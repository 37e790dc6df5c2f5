import { z } from 'zod';
import { count, label, milliseconds, ratio, releaseName, serviceName, timestamp } from './common-schemas.js';
import { defineEvent } from './define-event.js';

/**
 * Version 1: the flat shape of the seeds' health endpoints, as first recorded:
 * `{ service, instance, timestamp, status: healthy|degraded|unhealthy, responseTimeMs,
 *    errorRatePercent?, memoryPercent? }` (percentages 0-100).
 */
const healthSampleV1 = z.object({
  service: z.string(),
  instance: z.string(),
  timestamp: z.string(),
  status: z.enum(['healthy', 'degraded', 'unhealthy']),
  responseTimeMs: z.number(),
  errorRatePercent: z.number().optional(),
  memoryPercent: z.number().optional(),
});

/**
 * v1 → v2: `timestamp` becomes `sampledAt`; a degraded service still answered, so it counts as
 * healthy (the policy judges degradation from its figures); percentages become ratios.
 */
export const healthSampleV1ToV2 = (stored: unknown): unknown => {
  const v1 = healthSampleV1.parse(stored);
  return {
    service: v1.service,
    instance: v1.instance,
    sampledAt: v1.timestamp,
    healthy: v1.status !== 'unhealthy',
    healthLatencyMs: v1.responseTimeMs,
    ...(v1.errorRatePercent !== undefined && { errorRate: v1.errorRatePercent / 100 }),
    ...(v1.memoryPercent !== undefined && { memory: { usedRatio: v1.memoryPercent / 100 } }),
  };
};

/** Version 2: one probe of one instance — health endpoint, MCP handshake, and a metrics scrape. */
export const healthSample = z.strictObject({
  service: serviceName,
  instance: label,
  release: releaseName.optional(),
  sampledAt: timestamp,
  healthy: z.boolean(),
  healthLatencyMs: milliseconds,
  mcp: z
    .strictObject({
      protocolVersion: z.string().min(1).max(32),
      toolCount: count,
      initializeLatencyMs: milliseconds,
      error: z.string().max(2000).optional(),
    })
    .optional(),
  requests: z.strictObject({ total: count, errors: count }).optional(),
  errorRate: ratio.optional(),
  latencyMs: z.strictObject({ p50: milliseconds, p95: milliseconds, p99: milliseconds }).optional(),
  memory: z.strictObject({ usedRatio: ratio, usedBytes: count.optional(), limitBytes: count.optional() }).optional(),
  openCircuitBreakers: z.array(label).optional(),
  /** Calls and errors per tool since the previous scrape (the target's `mcp_tool_requests_total`). */
  tools: z.array(z.strictObject({ name: label, calls: count, errors: count })).optional(),
});

export const healthEvents = [defineEvent('HealthSampleRecorded', healthSample, [healthSampleV1ToV2])] as const;
