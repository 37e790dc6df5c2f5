import type { TypedRecordedEvent } from '../src/events/catalogue.js';
import type { Projection } from '../src/runtime/projection.js';
import { serviceOfStream } from '../src/domain/streams.js';

/** One alert firing for a service, as Alertmanager last reported it. */
export interface ActiveAlert {
  readonly alertname: string;
  readonly severity?: string;
  readonly fingerprint: string;
  /** When the alert started firing (ms since the epoch): of several, the earliest one is acted on first. */
  readonly startsAt: number;
  /** The AlertReceived event that reported it firing: the evidence of a decision it leads to. */
  readonly eventId: string;
}

export interface ActiveAlertsState {
  /** Services Failsafe knows (they have a service stream): alerts about any other are recorded, never acted on. */
  readonly known: Record<string, true>;
  /** Firing alerts of each known service, by fingerprint; a service with none has no entry (one lookup says so). */
  readonly services: Record<string, Record<string, ActiveAlert>>;
}

/**
 * The alerts firing now for each known service, from the AlertReceived events Alertmanager's
 * notifications became: an alert fires until its resolution is received. A resolution of an
 * earlier episode (an older start) leaves a later firing of the same alert in place.
 */
export const activeAlertsProjection: Projection<ActiveAlertsState> = {
  name: 'active-alerts',
  version: 1,
  get initialState(): ActiveAlertsState {
    return { known: {}, services: {} };
  },
  apply(state, event: TypedRecordedEvent) {
    if (event.type !== 'AlertReceived') {
      const known = serviceOfStream(event.stream);
      if (known !== undefined && !state.known[known]) state.known[known] = true;
      return state;
    }
    const { service, fingerprint, status, alertname, severity } = event.data;
    if (service === undefined || !state.known[service]) return state;
    const startsAt = Date.parse(event.data.startsAt);
    const alerts = state.services[service];
    const current = alerts?.[fingerprint];
    if (status === 'firing') {
      if (current && current.startsAt > startsAt) return state;
      const alert = { alertname, ...(severity && { severity }), fingerprint, startsAt, eventId: event.id };
      (state.services[service] ??= {})[fingerprint] = alert;
      return state;
    }
    if (!alerts || !current || current.startsAt > startsAt) return state;
    delete alerts[fingerprint];
    if (Object.keys(alerts).length === 0) delete state.services[service];
    return state;
  },
};
