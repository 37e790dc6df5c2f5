import { evolveService, initialServiceState, isRollbackActive, type ServiceState } from '../src/domain/service.js';
import type { EventData, TypedRecordedEvent } from '../src/events/catalogue.js';
import type { Projection } from '../src/runtime/projection.js';
import { serviceOfStream } from '../src/domain/streams.js';

/** A tool, an agent or the whole system (legacy mode) disabled now: by whom, when and why. */
export interface DisabledFeature {
  readonly scope: EventData<'FeatureDisabled'>['scope'];
  readonly target?: string | undefined;
  /** The actor recorded with the event: a token's name, or the executor carrying out a policy decision. */
  readonly by: string;
  readonly at: string;
  readonly reason?: string | undefined;
}

export interface ServiceView extends ServiceState {
  readonly service: string;
  /** Revision of `service-<name>` this view reflects: what a decision must expect. */
  readonly revision: number;
  /** Everything disabled now, ordered by scope then name: what status lists. */
  readonly disabledFeatures: readonly DisabledFeature[];
}

export interface ServicesState {
  readonly services: Record<string, ServiceView>;
}

export type ServiceStatus =
  | 'unknown'
  | 'deploying'
  | 'healthy'
  | 'failed'
  | 'awaiting_approval'
  | 'rolling_back'
  | 'rolled_back'
  | 'escalated';

/** One word for dashboards and `failsafe services`. */
export function serviceStatus(view: ServiceState): ServiceStatus {
  const rollback = view.rollback;
  if (rollback?.status === 'escalated') return 'escalated';
  if (rollback && isRollbackActive(view))
    return rollback.status === 'awaiting_approval' ? 'awaiting_approval' : 'rolling_back';
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

const SCOPE_ORDER = ['system', 'agent', 'tool'];

function withFeatures(features: readonly DisabledFeature[], event: TypedRecordedEvent): readonly DisabledFeature[] {
  if (event.type !== 'FeatureDisabled' && event.type !== 'FeatureEnabled') return features;
  const { scope, target, reason } = event.data;
  const others = features.filter((f) => f.scope !== scope || f.target !== target);
  if (event.type === 'FeatureEnabled') return others;
  const disabled = { scope, target, by: event.metadata.actor, at: event.metadata.occurredAt, reason };
  const rank = (f: DisabledFeature) => SCOPE_ORDER.indexOf(f.scope);
  return [...others, disabled].sort((a, b) => rank(a) - rank(b) || (a.target ?? '').localeCompare(b.target ?? ''));
}

/** Current release, last known good, deployment, rollback and disabled features (who, when) of every service. */
export const serviceStateProjection: Projection<ServicesState> = {
  name: 'service-state',
  version: 3,
  get initialState() {
    return { services: {} };
  },
  apply(state, event: TypedRecordedEvent) {
    const service = serviceOfStream(event.stream);
    if (service === undefined) return state;
    const previous = state.services[service] ?? { ...initialServiceState, service, revision: -1, disabledFeatures: [] };
    state.services[service] = {
      ...evolveService(previous, event),
      service,
      revision: Number(event.revision),
      disabledFeatures: withFeatures(previous.disabledFeatures, event),
    };
    return state;
  },
};
