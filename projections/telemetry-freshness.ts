import type { TypedRecordedEvent } from '../src/events/catalogue.js';
import type { Projection } from '../src/runtime/projection.js';
import { advance, eventTime } from './event-time.js';

/** How fresh one service's telemetry is, and what is recorded about it. */
export interface ServiceFreshness {
  /** The newest sample's time (ms since the epoch). */
  lastSampleAt?: number | undefined;
  lastSampleId?: string | undefined;
  /** When the service was registered: silence is counted from there until a first sample arrives. */
  registeredAt?: number | undefined;
  /** The recorded `TelemetryStale.detectedAt` not yet ended by a `TelemetryResumed`. */
  staleSince?: number | undefined;
  /** Revision of the service's telemetry stream (its stale and resumed events); -1 before any. */
  revision: number;
}

export interface TelemetryFreshnessState {
  /** The newest recorded time seen in any event (ms since the epoch): ticks move it on when samples stop. */
  asOf: number;
  readonly services: Record<string, ServiceFreshness>;
}

const entry = (state: TelemetryFreshnessState, service: string): ServiceFreshness =>
  (state.services[service] ??= { revision: -1 });

/** The time of each service's last health sample, whatever its source (probe or push), in recorded time only. */
export const telemetryFreshnessProjection: Projection<TelemetryFreshnessState> = {
  name: 'telemetry-freshness',
  version: 1,
  get initialState(): TelemetryFreshnessState {
    return { asOf: 0, services: {} };
  },
  apply(state, event: TypedRecordedEvent) {
    state.asOf = advance(state.asOf, event);
    switch (event.type) {
      case 'ServiceRegistered':
        entry(state, event.data.service).registeredAt ??= eventTime(event);
        break;
      case 'HealthSampleRecorded': {
        const service = entry(state, event.data.service);
        const at = eventTime(event);
        // Samples may arrive out of order (a backlog after a cut link): the newest one counts.
        if (service.lastSampleAt === undefined || at > service.lastSampleAt)
          Object.assign(service, { lastSampleAt: at, lastSampleId: event.id });
        break;
      }
      case 'TelemetryStale':
        Object.assign(entry(state, event.data.service), {
          staleSince: Date.parse(event.data.detectedAt),
          revision: Number(event.revision),
        });
        break;
      case 'TelemetryResumed':
        Object.assign(entry(state, event.data.service), { staleSince: undefined, revision: Number(event.revision) });
        break;
      default:
        break;
    }
    return state;
  },
};
