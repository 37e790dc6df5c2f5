import type { EventData, TypedRecordedEvent } from '../src/events/catalogue.js';
import type { Projection } from '../src/runtime/projection.js';
import { advance, eventTime } from './event-time.js';

export type Severity = EventData<'RollbackEscalated'>['severity'];

export interface Incident {
  readonly id: string;
  readonly service: string;
  severity: Severity;
  readonly rule: string;
  readonly openedAt: number;
  resolvedAt?: number | undefined;
  /** `escalated`: Failsafe could not mitigate it (nothing to roll back to, verification failed): a person has it. */
  status: 'open' | 'mitigating' | 'escalated' | 'resolved';
  /** Every event of the incident, in order: the post-incident review reads these. */
  readonly eventIds: string[];
}

export interface IncidentsState {
  asOf: number;
  readonly incidents: Record<string, Incident>;
}

/**
 * The seeds' severities (004: P0 service down, P1 major functionality degraded, P2 partial,
 * P3 minor) by what a rule does, for decisions recorded before they carried their rule's severity.
 */
export const severityOfRule = (rule: string, mode: string): Severity => {
  if (rule.startsWith('health_check')) return 'P0';
  if (mode === 'automatic') return 'P1';
  if (mode === 'manual') return 'P2';
  return 'P3';
};

const rank: Record<Severity, number> = { P0: 0, P1: 1, P2: 2, P3: 3 };

/** The rule of an incident opened by stale telemetry. */
export const TELEMETRY_STALE_RULE = 'telemetry_stale';

/**
 * P2 (seeds 004: partial functionality affected): what is known lost is Failsafe's watch over one
 * service (its automatic rollback is blind), not the service itself, which may be fine; the
 * common causes are the telemetry path (publisher, broker, network), which no rollback fixes.
 */
export const TELEMETRY_STALE_SEVERITY: Severity = 'P2';

/** A stale-telemetry episode is an incident too: opened when found stale, resolved when samples resume. */
function applyTelemetry(state: IncidentsState, event: TypedRecordedEvent): void {
  if (event.type === 'TelemetryStale') {
    const id = `ts-${event.id}`;
    state.incidents[id] = {
      id,
      service: event.data.service,
      severity: TELEMETRY_STALE_SEVERITY,
      rule: TELEMETRY_STALE_RULE,
      openedAt: Date.parse(event.data.detectedAt),
      status: 'open',
      eventIds: [event.id],
    };
  } else if (event.type === 'TelemetryResumed') {
    const open = Object.values(state.incidents).find(
      (i) => i.rule === TELEMETRY_STALE_RULE && i.service === event.data.service && i.status === 'open',
    );
    if (!open) return;
    open.eventIds.push(event.id);
    Object.assign(open, { status: 'resolved', resolvedAt: Date.parse(event.data.resumedAt) });
  }
}

/**
 * One incident per rollback: opened by its decision or request, resolved by a passed verification
 * or a rejection; and one per stale-telemetry episode.
 */
export const incidentsProjection: Projection<IncidentsState> = {
  name: 'incidents',
  version: 3,
  get initialState(): IncidentsState {
    return { asOf: 0, incidents: {} };
  },
  apply(state, event) {
    state.asOf = advance(state.asOf, event);
    if (event.type.startsWith('Telemetry')) applyTelemetry(state, event);
    if (!event.type.startsWith('Rollback')) return state;
    const data = event.data as { rollbackId: string; service: string };
    if (event.type === 'RollbackDecided' || event.type === 'RollbackRequested') {
      const rule = event.type === 'RollbackDecided' ? event.data.rule : 'manual_request';
      const mode = event.type === 'RollbackDecided' ? event.data.mode : 'manual';
      // The policy rule's own severity (the policy file says it per rule) wins over a guess from its action.
      const severity = (event.type === 'RollbackDecided' && event.data.severity) || severityOfRule(rule, mode);
      state.incidents[data.rollbackId] = {
        id: data.rollbackId,
        service: data.service,
        severity,
        rule,
        openedAt: eventTime(event),
        status: 'open',
        eventIds: [event.id],
      };
      return state;
    }
    const incident = state.incidents[data.rollbackId];
    if (!incident) return state;
    incident.eventIds.push(event.id);
    switch (event.type) {
      case 'RollbackStarted':
        incident.status = 'mitigating';
        break;
      case 'RollbackEscalated':
        if (rank[event.data.severity] < rank[incident.severity]) incident.severity = event.data.severity;
        incident.status = 'escalated';
        break;
      case 'RollbackVerified':
        if (event.data.passed) Object.assign(incident, { status: 'resolved', resolvedAt: eventTime(event) });
        break;
      case 'RollbackRejected':
        Object.assign(incident, { status: 'resolved', resolvedAt: eventTime(event) });
        break;
      default:
        break;
    }
    return state;
  },
};
