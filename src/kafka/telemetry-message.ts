import { z } from 'zod';
import {
  actorName,
  eventId,
  identifier,
  reason,
  releaseName,
  serviceName,
  timestamp,
} from '../events/common-schemas.js';
import { healthSample } from '../events/health-events.js';

/**
 * What fleets publish to Failsafe through Kafka, version 1: JSON, keyed by the service's name (so
 * one service's messages keep their order). `id` is the dedupe key: it becomes the recorded event's
 * id, so a message delivered twice is recorded once. Samples have the shape the prober records.
 *
 *   {"schemaVersion":1,"kind":"health_sample","id":"0193…","sample":{"service":"orders",
 *    "instance":"orders-1","sampledAt":"2026-12-01T10:00:00.000Z","healthy":true,"healthLatencyMs":12}}
 */
export const TELEMETRY_SCHEMA_VERSION = 1;

export const healthSampleMessage = z.strictObject({
  schemaVersion: z.literal(TELEMETRY_SCHEMA_VERSION),
  kind: z.literal('health_sample'),
  id: eventId,
  sample: healthSample,
});

/** A deployment another system carried out (a CI pipeline, an operator's script), as it progresses. */
export const deploymentNoticeMessage = z.strictObject({
  schemaVersion: z.literal(TELEMETRY_SCHEMA_VERSION),
  kind: z.literal('deployment_notice'),
  id: eventId,
  notice: z.strictObject({
    service: serviceName,
    release: releaseName,
    deploymentId: identifier,
    status: z.enum(['started', 'healthy', 'failed']),
    at: timestamp,
    /** Who deployed, recorded as the events' actor. */
    by: actorName,
    reason: reason.optional(),
  }),
});

export const telemetryMessage = z.discriminatedUnion('kind', [healthSampleMessage, deploymentNoticeMessage]);
export type TelemetryMessage = z.infer<typeof telemetryMessage>;
export type HealthSampleMessage = z.infer<typeof healthSampleMessage>;
export type DeploymentNoticeMessage = z.infer<typeof deploymentNoticeMessage>;

export type ParsedTelemetry =
  | { readonly ok: true; readonly message: TelemetryMessage }
  | { readonly ok: false; readonly reason: string };

/**
 * A message's bytes, checked in order of cost: size, JSON, schema version, shape. The reason of a
 * refusal says what was wrong, for the dead-letter topic.
 */
export function parseTelemetryMessage(value: Buffer | null, maxBytes: number): ParsedTelemetry {
  if (value === null || value.length === 0) return { ok: false, reason: 'empty message (no value)' };
  if (value.length > maxBytes) return { ok: false, reason: `oversized: ${value.length} bytes, at most ${maxBytes}` };
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (error) {
    return { ok: false, reason: `malformed JSON: ${(error as Error).message}` };
  }
  const version = (json as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (version !== TELEMETRY_SCHEMA_VERSION)
    return {
      ok: false,
      reason: `unsupported schemaVersion ${JSON.stringify(version)}: this Failsafe reads ${TELEMETRY_SCHEMA_VERSION}`,
    };
  // Straight to the kind's own schema: the union costs as much again (it names the kinds when none matches).
  const kind = (json as { kind?: unknown }).kind;
  const schema =
    kind === 'health_sample' ? healthSampleMessage : kind === 'deployment_notice' ? deploymentNoticeMessage : undefined;
  const parsed = (schema ?? telemetryMessage).safeParse(json) as z.ZodSafeParseResult<TelemetryMessage>;
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`);
    return { ok: false, reason: `invalid message: ${problems.join('; ')}` };
  }
  return { ok: true, message: parsed.data };
}
