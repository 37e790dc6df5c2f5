import type { DomainEvent, EventData } from '../events/catalogue.js';
import type { ExecutionLease } from './lease.js';

export type DeploymentStatus = 'requested' | 'started' | 'healthy' | 'failed' | 'rolled_back' | 'cancelled' | 'expired';
export type RollbackStatus =
  | 'decided'
  | 'awaiting_approval'
  | 'approved'
  | 'rejected'
  | 'in_progress'
  | 'completed'
  | 'failed'
  | 'escalated';
export type RollbackMode = EventData<'RollbackDecided'>['mode'];

export interface Rollback {
  readonly id: string;
  readonly mode: RollbackMode;
  readonly status: RollbackStatus;
  /** Who asked: a person for a manual request, the rule's name for a policy decision. */
  readonly requestedBy: string;
  readonly targetRelease?: string | undefined;
  readonly approval?: { readonly by: string; readonly expiresAt: string } | undefined;
  readonly fromRelease?: string | undefined;
  readonly toRelease?: string | undefined;
  readonly attempts: number;
  readonly verified?: boolean | undefined;
  /** For a disable_feature decision: what to disable. */
  readonly feature?: EventData<'RollbackDecided'>['feature'];
  /** For a migration rule: the migration to revert. */
  readonly migration?: EventData<'RollbackDecided'>['migration'];
  /** While in progress: the executor carrying it out (absent on rollbacks started before leases). */
  readonly lease?: ExecutionLease | undefined;
}

/** What served before a deployment started: restored when the deployment fails, as the driver leaves it. */
export interface ReplacedRelease {
  readonly release?: string | undefined;
  readonly healthy?: boolean | undefined;
  readonly lastKnownGood?: string | undefined;
}

export interface Deployment {
  readonly id: string;
  readonly release: string;
  readonly status: DeploymentStatus;
  /** When it was asked for (absent in histories recorded before requests carried their time). */
  readonly requestedAt?: string | undefined;
  /** Set from the start until the outcome. */
  readonly replaced?: ReplacedRelease | undefined;
  /** While started: the executor carrying it out (absent on deployments started before leases). */
  readonly lease?: ExecutionLease | undefined;
}

/**
 * Everything about one service that its stream (`service-<name>`) records: deployments,
 * rollbacks and disabled features share the stream so that one expected revision guards them all.
 */
export interface ServiceState {
  /**
   * Registered by a fleet file or a person. A stream recorded before registrations existed holds
   * no ServiceRegistered: any event in it counts, as any event used to bring a service into being.
   */
  readonly registered?: boolean | undefined;
  readonly currentRelease?: string | undefined;
  /** Whether the current release passed its readiness checks (or was restored by a rollback). */
  readonly currentReleaseHealthy?: boolean | undefined;
  /**
   * The rollback target: the last release that was healthy before the current one. A new release
   * that merely passed readiness is not yet "known good" — the bad ones usually pass it too.
   */
  readonly lastKnownGood?: string | undefined;
  readonly deployment?: Deployment | undefined;
  readonly rollback?: Rollback | undefined;
  readonly disabledTools: readonly string[];
  readonly disabledAgents: readonly string[];
  /** The seeds' "legacy mode": the whole system is disabled. */
  readonly legacyMode: boolean;
  /** Flags changed since the driver last put them in force (or failed to): the executor has work. */
  readonly flagsPending?: boolean | undefined;
  /** The latest scaling asked for, and whether it was carried out. */
  readonly scale?:
    | { readonly id: string; readonly replicas: number; readonly status: 'requested' | 'completed' | 'failed' }
    | undefined;
}

export const initialServiceState: ServiceState = { disabledTools: [], disabledAgents: [], legacyMode: false };

const ACTIVE: ReadonlySet<RollbackStatus> = new Set([
  'decided',
  'awaiting_approval',
  'approved',
  'in_progress',
  'failed',
]);

export const isRollbackActive = (state: ServiceState): boolean =>
  state.rollback !== undefined && ACTIVE.has(state.rollback.status);

const withRollback = (state: ServiceState, changes: Partial<Rollback>): ServiceState =>
  state.rollback ? { ...state, rollback: { ...state.rollback, ...changes } } : state;

/** The lease a start event hands its executor, if it names one. */
const leaseOf = (data: { executor?: ExecutionLease['executor']; leaseUntil?: string }): ExecutionLease | undefined =>
  data.executor && data.leaseUntil ? { executor: data.executor, until: data.leaseUntil } : undefined;

const toggle = (list: readonly string[], item: string, present: boolean) =>
  present ? [...new Set([...list, item])].sort() : list.filter((x) => x !== item);

export function evolveService(state: ServiceState, event: DomainEvent): ServiceState {
  const next = evolve(state, event);
  return next.registered ? next : { ...next, registered: true };
}

function evolve(state: ServiceState, event: DomainEvent): ServiceState {
  switch (event.type) {
    case 'DeploymentRequested': {
      const { deploymentId: id, release, requestedAt } = event.data;
      return { ...state, deployment: { id, release, status: 'requested', ...(requestedAt && { requestedAt }) } };
    }
    case 'DeploymentCancelled':
    case 'DeploymentExpired':
      return {
        ...state,
        deployment: {
          id: event.data.deploymentId,
          release: event.data.release,
          status: event.type === 'DeploymentCancelled' ? 'cancelled' : 'expired',
        },
      };
    case 'DeploymentStarted': {
      const replacesGood =
        state.currentReleaseHealthy &&
        state.currentRelease !== undefined &&
        state.currentRelease !== event.data.release;
      const { currentRelease: release, currentReleaseHealthy: healthy, lastKnownGood } = state;
      const replaced = { release, healthy, lastKnownGood };
      return {
        ...state,
        ...(replacesGood && { lastKnownGood: state.currentRelease }),
        currentRelease: event.data.release,
        currentReleaseHealthy: false,
        deployment: {
          id: event.data.deploymentId,
          release: event.data.release,
          status: 'started',
          replaced,
          lease: leaseOf(event.data),
        },
      };
    }
    case 'DeploymentHealthy':
      return {
        ...state,
        currentRelease: event.data.release,
        currentReleaseHealthy: true,
        deployment: { id: event.data.deploymentId, release: event.data.release, status: 'healthy' },
      };
    case 'DeploymentFailed': {
      // Drivers switch traffic only to a ready release: after a failure the replaced one still serves.
      const started = state.deployment?.id === event.data.deploymentId && state.deployment.status === 'started';
      const replaced = started ? state.deployment!.replaced : undefined;
      return {
        ...state,
        ...(replaced && {
          currentRelease: replaced.release,
          currentReleaseHealthy: replaced.healthy,
          lastKnownGood: replaced.lastKnownGood,
        }),
        deployment: { id: event.data.deploymentId, release: event.data.release, status: 'failed' },
      };
    }
    case 'DeploymentRolledBack':
      return {
        ...state,
        currentRelease: event.data.toRelease,
        deployment: { id: event.data.deploymentId, release: event.data.release, status: 'rolled_back' },
      };
    case 'RollbackDecided':
      return {
        ...state,
        rollback: {
          id: event.data.rollbackId,
          mode: event.data.mode,
          status: event.data.mode === 'manual' ? 'awaiting_approval' : 'decided',
          requestedBy: `policy:${event.data.rule}`,
          targetRelease: event.data.targetRelease,
          attempts: 0,
          feature: event.data.feature,
          migration: event.data.migration,
        },
      };
    case 'RollbackRequested':
      return {
        ...state,
        rollback: {
          id: event.data.rollbackId,
          mode: 'manual',
          status: 'awaiting_approval',
          requestedBy: event.data.requestedBy,
          targetRelease: event.data.targetRelease,
          attempts: 0,
        },
      };
    case 'RollbackApproved':
      return withRollback(state, {
        status: 'approved',
        approval: { by: event.data.approvedBy, expiresAt: event.data.expiresAt },
      });
    case 'RollbackRejected':
      return withRollback(state, { status: 'rejected' });
    case 'RollbackStarted':
      return withRollback(state, {
        status: 'in_progress',
        fromRelease: event.data.fromRelease,
        toRelease: event.data.toRelease,
        lease: leaseOf(event.data),
      });
    case 'RollbackCompleted':
      return {
        ...withRollback(state, { status: 'completed' }),
        currentRelease: event.data.release,
        currentReleaseHealthy: true,
      };
    case 'RollbackFailed':
      return withRollback(state, { status: 'failed', attempts: event.data.attempt });
    case 'RollbackEscalated':
      return withRollback(state, { status: 'escalated' });
    case 'RollbackVerified':
      return withRollback(state, { verified: event.data.passed });
    case 'ExecutionLeaseRenewed':
    case 'ExecutionTakenOver': {
      const { work, executor, leaseUntil: until } = event.data;
      if (work.kind === 'rollback' && state.rollback?.id === work.id)
        return withRollback(state, { lease: { executor, until } });
      const { deployment } = state;
      if (work.kind === 'deployment' && deployment?.id === work.id)
        return { ...state, deployment: { ...deployment, lease: { executor, until } } };
      return state;
    }
    case 'FeatureDisabled':
    case 'FeatureEnabled': {
      const disabled = event.type === 'FeatureDisabled';
      if (event.data.scope === 'system') return { ...state, legacyMode: disabled, flagsPending: true };
      const key = event.data.scope === 'tool' ? 'disabledTools' : 'disabledAgents';
      return { ...state, [key]: toggle(state[key], event.data.target!, disabled), flagsPending: true };
    }
    case 'FeatureFlagsApplied':
    case 'FeatureFlagsFailed': {
      // An outcome for flags changed again since it was asked for leaves the newer change pending.
      const { disabledTools, disabledAgents, legacyMode } = event.data;
      const same = (a: readonly string[], b: readonly string[]) => a.join('\0') === b.join('\0');
      const current =
        legacyMode === state.legacyMode &&
        same(disabledTools, state.disabledTools) &&
        same(disabledAgents, state.disabledAgents);
      return { ...state, flagsPending: !current };
    }
    case 'ScaleRequested':
      return { ...state, scale: { id: event.data.scaleId, replicas: event.data.replicas, status: 'requested' } };
    case 'ScaleCompleted':
    case 'ScaleFailed':
      if (state.scale?.id !== event.data.scaleId) return state;
      return { ...state, scale: { ...state.scale, status: event.type === 'ScaleCompleted' ? 'completed' : 'failed' } };
    default:
      return state;
  }
}
