import type { ServiceFreshness, TelemetryFreshnessState } from '../../projections/telemetry-freshness.js';
import type { DomainEvent } from '../events/catalogue.js';

export interface StalenessSettings {
  /** The services that push their own telemetry (`telemetry: push` in the fleet file): the ones watched. */
  readonly services: readonly string[];
  /** `kafka.telemetry.staleAfterSeconds`. */
  readonly staleAfterSeconds: number;
}

/** One change of a service's telemetry condition, to record on its telemetry stream at the revision observed. */
export interface TelemetryDecision {
  readonly service: string;
  readonly event: Extract<DomainEvent, { type: 'TelemetryStale' | 'TelemetryResumed' }>;
  /** Revision of `telemetry-<service>` the decision was made against; -1: the stream has no event yet. */
  readonly expectedRevision: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Where silence is counted from: the last sample; before any, the service's registration (a
 * pushing service registered by the fleet file that never sends is the misconfigured publisher
 * this condition exists for, and registration is recorded, so a replay agrees). A service neither
 * registered nor ever sampled is not judged: nothing recorded says it should be sending.
 */
const silentSince = (service: ServiceFreshness): number | undefined => service.lastSampleAt ?? service.registeredAt;

/**
 * The stale-telemetry condition as of the read model's recorded time: a watched service whose
 * newest sample is older than `staleAfterSeconds` is stale; a recorded staleness ends once a fresh
 * sample arrives (or the service is no longer watched). Only changes are decided, so the decision
 * recurs at every judgement until recorded; its stream revision makes it recorded once.
 */
export function judgeTelemetry(
  model: TelemetryFreshnessState,
  settings: StalenessSettings,
  only?: readonly string[],
): TelemetryDecision[] {
  const watched = new Set(settings.services);
  const now = model.asOf;
  return (only ?? Object.keys(model.services).sort()).flatMap((name): TelemetryDecision[] => {
    const service = model.services[name];
    if (!service) return [];
    const since = watched.has(name) ? silentSince(service) : undefined;
    const stale = since !== undefined && now - since > settings.staleAfterSeconds * 1000;
    if (stale && service.staleSince === undefined) {
      const data = {
        service: name,
        ...(service.lastSampleAt !== undefined && { lastSampleAt: iso(service.lastSampleAt) }),
        silentSince: iso(since),
        staleAfterSeconds: settings.staleAfterSeconds,
        detectedAt: iso(now),
      };
      return [{ service: name, event: { type: 'TelemetryStale', data }, expectedRevision: service.revision }];
    }
    if (!stale && service.staleSince !== undefined) {
      const data = { service: name, staleSince: iso(service.staleSince), resumedAt: iso(now) };
      return [{ service: name, event: { type: 'TelemetryResumed', data }, expectedRevision: service.revision }];
    }
    return [];
  });
}
