import { evolveService, initialServiceState, isRollbackActive, type ServiceState } from '../src/domain/service.js';
import type { TypedRecordedEvent } from '../src/events/catalogue.js';
import type { Projection } from '../src/runtime/projection.js';

export interface ServiceView extends ServiceState {
  readonly service: string;
  /** Revision of `service-<name>` this view reflects: what a decision must expect. */
  readonly revision: number;
}

export interface ServicesState {
  readonly services: Record<string, ServiceView>;
}

export type ServiceStatus = 'unknown' | 'deploying' | 'healthy' | 'failed' | 'awaiting_approval' | 'rolling_back' | 'rolled_back' | 'escalated';

/** One word for dashboards and `failsafe services`. */
export function serviceStatus(view: ServiceState): ServiceStatus {
  const rollback = view.rollback;
  if (rollback?.status === 'escalated') return 'escalated';
  if (rollback && isRollbackActive(view)) return rollback.status === 'awaiting_approval' ? 'awaiting_approval' : 'rolling_back';
  switch (view.deployment?.status) {
    case 'requested':
    case 'started':
      return 'deploying';
    case 'healthy':
      return 'healthy';
    case 'failed':
      return 'failed';
    case 'rolled_back':
      return 'rolled_back';
    case 'cancelled':
    case 'expired':
      // The request never ran: the service is as it was.
      return view.currentReleaseHealthy ? 'healthy' : 'unknown';
    default:
      return 'unknown';
  }
}

const SERVICE_STREAM = 'service-';

/** Current release, last known good, deployment, rollback and disabled features of every service. */
export const serviceStateProjection: Projection<ServicesState> = {
  name: 'service-state',
  version: 2,
  get initialState() {
    return { services: {} };
  },
  apply(state, event: TypedRecordedEvent) {
    if (!event.stream.startsWith(SERVICE_STREAM)) return state;
    const service = event.stream.slice(SERVICE_STREAM.length);
    const previous = state.services[service] ?? { ...initialServiceState, service, revision: -1 };
    state.services[service] = { ...evolveService(previous, event), service, revision: Number(event.revision) };
    return state;
  },
};
