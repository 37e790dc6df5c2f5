import { z } from 'zod';
import { serviceName } from '../events/common-schemas.js';
import { brokerAddress, topicName } from './kafka-config.js';

/**
 * What the process driver tells each instance of a service whose fleet entry says `telemetry: push`:
 * where to publish its own health samples, as whom, and how often. The instance names itself
 * `<service>-<its pid>`, the id the driver gives it (the driver starts the release's command itself,
 * not through a shell), so that pushed and probed samples name the same instance.
 */
export interface PushTelemetrySettings {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly service: string;
  /** The fleet's probe interval: a pushing service samples itself as often as it would be probed. */
  readonly intervalMs: number;
  /** The fleet's probe timeout, for each of the self-probe's requests. */
  readonly timeoutMs: number;
}

const NAMES = {
  brokers: 'FAILSAFE_TELEMETRY_BROKERS',
  topic: 'FAILSAFE_TELEMETRY_TOPIC',
  service: 'FAILSAFE_TELEMETRY_SERVICE',
  intervalMs: 'FAILSAFE_TELEMETRY_INTERVAL_MS',
  timeoutMs: 'FAILSAFE_TELEMETRY_TIMEOUT_MS',
} as const;

const fromEnv = z.strictObject({
  brokers: z.string().transform((list, ctx) => {
    const brokers = list.split(',').filter(Boolean);
    for (const b of brokers) if (!brokerAddress.safeParse(b).success) ctx.addIssue(`${b} is not host:port`);
    if (brokers.length === 0) ctx.addIssue('names no broker');
    return brokers;
  }),
  topic: topicName,
  service: serviceName,
  intervalMs: z.coerce.number().int().min(100),
  timeoutMs: z.coerce.number().int().min(100),
});

export class InvalidPushTelemetryEnv extends Error {
  readonly code = 'INVALID_PUSH_TELEMETRY_ENV';
  constructor(problems: readonly string[]) {
    super(
      `InvalidPushTelemetryEnv: ${problems.join('; ')}; the process driver sets these for a service with ` +
        '`telemetry: push` in the fleet file (set all of them, or none to be probed instead)',
    );
    this.name = 'InvalidPushTelemetryEnv';
  }
}

export function pushTelemetryEnv(settings: PushTelemetrySettings): Record<string, string> {
  return {
    [NAMES.brokers]: settings.brokers.join(','),
    [NAMES.topic]: settings.topic,
    [NAMES.service]: settings.service,
    [NAMES.intervalMs]: String(settings.intervalMs),
    [NAMES.timeoutMs]: String(settings.timeoutMs),
  };
}

/** The settings an instance was started with, or undefined when it is not told to push (it is probed). */
export function readPushTelemetryEnv(env: NodeJS.ProcessEnv): PushTelemetrySettings | undefined {
  const raw = Object.fromEntries(Object.entries(NAMES).map(([key, name]) => [key, env[name]]));
  if (Object.values(raw).every((v) => v === undefined || v === '')) return undefined;
  const parsed = fromEnv.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new InvalidPushTelemetryEnv(
    parsed.error.issues.map((i) => `${NAMES[i.path[0] as keyof typeof NAMES] ?? i.path.join('.')}: ${i.message}`),
  );
}
