import type { DomainEvent } from '../events/catalogue.js';
import { InvariantViolated } from './decider.js';
import { assertLeaseHeld } from './execution-lease.js';
import type { ExecutionLease, Executor } from './lease.js';
import { isRollbackActive, type Deployment, type ServiceState } from './service.js';

export type DeploymentCommand =
  | {
      readonly type: 'RequestDeployment';
      readonly service: string;
      readonly deploymentId: string;
      readonly release: string;
      readonly reason?: string;
      /** When it is asked for: a request not started within the expiry time never runs. */
      readonly now: Date;
    }
  | {
      readonly type: 'CancelDeployment';
      readonly service: string;
      readonly deploymentId: string;
      readonly cancelledBy: string;
      readonly reason?: string;
    }
  | {
      readonly type: 'ExpireDeployment';
      readonly service: string;
      readonly deploymentId: string;
      readonly now: Date;
      readonly maxAgeMs: number;
    }
  | {
      readonly type: 'StartDeployment';
      readonly service: string;
      readonly deploymentId: string;
      /** The executor starting it holds it until then, unless it renews. */
      readonly lease?: ExecutionLease;
    }
  | {
      readonly type: 'MarkDeploymentHealthy';
      readonly service: string;
      readonly deploymentId: string;
      /** The executor recording it: refused unless it still holds the lease. */
      readonly executor?: Executor;
    }
  | {
      readonly type: 'MarkDeploymentFailed';
      readonly service: string;
      readonly deploymentId: string;
      readonly reason: string;
      readonly executor?: Executor;
    };

function assertNoRollback(state: ServiceState, service: string): void {
  if (isRollbackActive(state)) {
    throw new InvariantViolated(
      'deployment-blocked-by-rollback',
      `rollback ${state.rollback!.id} of ${service} is ${state.rollback!.status}; ` +
        'wait until it completes or is rejected',
    );
  }
}

function pendingDeployment(
  state: ServiceState,
  command: { deploymentId: string; service: string },
  allowed: readonly string[],
) {
  const deployment = state.deployment;
  if (!deployment || deployment.id !== command.deploymentId) {
    throw new InvariantViolated('unknown-deployment', `${command.service} has no deployment ${command.deploymentId}`);
  }
  if (!allowed.includes(deployment.status)) {
    throw new InvariantViolated(
      'deployment-not-in-progress',
      `deployment ${deployment.id} of ${command.service} is ${deployment.status}, expected ${allowed.join(' or ')}`,
    );
  }
  return deployment;
}

/** How long a deployment request waits for an executor before it expires, unless configured otherwise. */
export const DEFAULT_REQUEST_EXPIRY_MS = 15 * 60_000;

/**
 * Whether a request waited too long for an executor. One recorded before requests carried their
 * time counts as expired: its age is unknown, and it must not run long after it was asked for.
 */
export function isExpired(deployment: Pick<Deployment, 'requestedAt'>, now: Date, maxAgeMs: number): boolean {
  return deployment.requestedAt === undefined || now.getTime() - Date.parse(deployment.requestedAt) >= maxAgeMs;
}

export function decideDeployment(state: ServiceState, command: DeploymentCommand): DomainEvent[] {
  const { service, deploymentId } = command;
  switch (command.type) {
    case 'RequestDeployment': {
      assertNoRollback(state, service);
      const busy = state.deployment && ['requested', 'started'].includes(state.deployment.status);
      if (busy) {
        throw new InvariantViolated(
          'one-deployment-at-a-time',
          `deployment ${state.deployment!.id} of ${service} (${state.deployment!.release}) ` +
            `is still ${state.deployment!.status}`,
        );
      }
      if (state.currentRelease === command.release) {
        throw new InvariantViolated('release-already-running', `${service} already runs ${command.release}`);
      }
      return [
        {
          type: 'DeploymentRequested',
          data: {
            deploymentId,
            service,
            release: command.release,
            previousRelease: state.currentRelease ?? null,
            ...(command.reason && { reason: command.reason }),
            requestedAt: command.now.toISOString(),
          },
        },
      ];
    }
    case 'CancelDeployment': {
      const { release } = pendingDeployment(state, command, ['requested']);
      const { cancelledBy, reason } = command;
      const data = { deploymentId, service, release, cancelledBy, ...(reason && { reason }) };
      return [{ type: 'DeploymentCancelled', data }];
    }
    case 'ExpireDeployment': {
      const pending = pendingDeployment(state, command, ['requested']);
      if (!isExpired(pending, command.now, command.maxAgeMs)) {
        const why = `deployment ${deploymentId} of ${service} was requested at ${pending.requestedAt}`;
        throw new InvariantViolated('deployment-not-expired', why);
      }
      const { release, requestedAt } = pending;
      const expiredAt = command.now.toISOString();
      const data = { deploymentId, service, release, expiredAt, maxAgeSeconds: command.maxAgeMs / 1000 };
      return [{ type: 'DeploymentExpired', data: { ...data, ...(requestedAt && { requestedAt }) } }];
    }
    case 'StartDeployment': {
      assertNoRollback(state, service);
      const { release } = pendingDeployment(state, command, ['requested']);
      const { lease } = command;
      const leased = lease && { executor: lease.executor, leaseUntil: lease.until };
      return [{ type: 'DeploymentStarted', data: { deploymentId, service, release, ...leased } }];
    }
    case 'MarkDeploymentHealthy': {
      const { release, lease } = pendingDeployment(state, command, ['started']);
      assertLeaseHeld(lease, command.executor, `deployment ${deploymentId} of ${service}`);
      return [{ type: 'DeploymentHealthy', data: { deploymentId, service, release } }];
    }
    case 'MarkDeploymentFailed': {
      const { release, lease } = pendingDeployment(state, command, ['requested', 'started']);
      assertLeaseHeld(lease, command.executor, `deployment ${deploymentId} of ${service}`);
      return [{ type: 'DeploymentFailed', data: { deploymentId, service, release, reason: command.reason } }];
    }
  }
}
