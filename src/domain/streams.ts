/**
 * Every stream name Failsafe writes, defined once: readers and writers import these rather than
 * spelling the prefixes, so a renamed stream cannot leave a reader looking in the old place.
 */
const SERVICE_PREFIX = 'service-';

/** A service's own stream: registration, deployments, rollbacks, feature flags, executor leases. */
export const serviceStream = (service: string): string => `${SERVICE_PREFIX}${service}`;

/** The service a service stream belongs to, or undefined for any other stream. */
export const serviceOfStream = (stream: string): string | undefined =>
  stream.startsWith(SERVICE_PREFIX) ? stream.slice(SERVICE_PREFIX.length) : undefined;

/** Health samples of one service (probed or pushed), kept under a retention policy. */
export const healthStream = (service: string): string => `health-${service}`;

/** Telemetry freshness of one push service: stale and resumed. */
export const telemetryStream = (service: string): string => `telemetry-${service}`;

const OF_ONE_SERVICE = [SERVICE_PREFIX, healthStream(''), telemetryStream('')];

/** The service a stream of one service's events belongs to (its own, its samples', its telemetry's); else undefined. */
export function serviceOwningStream(stream: string): string | undefined {
  for (const prefix of OF_ONE_SERVICE) if (stream.startsWith(prefix)) return stream.slice(prefix.length);
  return undefined;
}

export const migrationStream = (migrationId: string): string => `migration-${migrationId}`;

export const schemaStream = (service: string, database: string): string => `schema-${service}-${database}`;

export const drillStream = (runId: string): string => `drill-${runId}`;

export const drillScheduleStream = (drill: string): string => `drill-schedule-${drill}`;

/** Every alert Alertmanager delivered, firing and resolved, in the order they arrived. */
export const ALERT_STREAM = 'alerts';

/** The recorded passage of time (ticks). */
export const CLOCK_STREAM = 'clock';

/** Each `failsafe audit verify` run: how far the history was verified, against which policy, with what result. */
export const AUDIT_STREAM = 'audit-verifications';
