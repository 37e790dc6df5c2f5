import type { DomainEvent } from '../events/catalogue.js';
import { InvariantViolated } from './decider.js';
import { type ExecutionLease, type Executor, type LeasedWork, leaseLapsed } from './lease.js';
import type { ServiceState } from './service.js';

export type ExecutionLeaseCommand =
  | {
      readonly type: 'RenewExecutionLease';
      readonly service: string;
      readonly work: LeasedWork;
      readonly executor: Executor;
      readonly leaseUntil: string;
    }
  | {
      readonly type: 'TakeOverExecution';
      readonly service: string;
      readonly work: LeasedWork;
      readonly executor: Executor;
      readonly now: string;
      readonly leaseUntil: string;
    };

/**
 * 30 s: a replica that dies or is cut off mid-rollback delays it by at most this (plus a renewal
 * interval), against the 5 minutes of failing health that decide one. Renewed every 10 s, a lease
 * rides out two renewals lost to a store fail-over (a PostgreSQL standby is promoted in seconds) or a
 * long pause, so a live replica is not taken over; hosts' clocks must agree to well within it.
 */
export const DEFAULT_EXECUTION_LEASE_MS = 30_000;

const describeExecutor = (e: Executor) => `${e.replica} (${e.host}, pid ${e.pid})`;

/** Whether another executor may take the work over: its lease ran out, or it has none (started before leases). */
export const executionLeaseLapsed = (lease: ExecutionLease | undefined, now: string | Date): boolean =>
  lease === undefined || leaseLapsed(lease.until, now);

/**
 * Refuses a step of leased work by an executor that no longer holds the lease: another took the work
 * over, and only it acts on it now. A step taken without naming an executor (a person's) is not leased.
 */
export function assertLeaseHeld(lease: ExecutionLease | undefined, executor: Executor | undefined, what: string) {
  if (executor === undefined || lease === undefined || lease.executor.replica === executor.replica) return;
  throw new InvariantViolated(
    'lease-lost',
    `${what} is leased to ${describeExecutor(lease.executor)} until ${lease.until}; ` +
      `${describeExecutor(executor)} lost it and stops acting on it`,
  );
}

/** The lease of the work named, which must be in progress (a rollback in progress, a deployment started). */
function inProgress(state: ServiceState, service: string, work: LeasedWork): { lease?: ExecutionLease | undefined } {
  const current = work.kind === 'rollback' ? state.rollback : state.deployment;
  const status = work.kind === 'rollback' ? 'in_progress' : 'started';
  if (current?.id !== work.id || current.status !== status) {
    const now = current?.id === work.id ? `is ${current.status}` : 'is not the current one';
    throw new InvariantViolated('work-not-in-progress', `${work.kind} ${work.id} of ${service} ${now}`);
  }
  return current;
}

/**
 * Renewing and taking over the lease of work in progress. Appended at the revision read like every
 * step of the stream, two executors racing to take over the same lapsed lease cannot both win.
 */
export function decideExecutionLease(state: ServiceState, command: ExecutionLeaseCommand): DomainEvent[] {
  const { service, work, executor, leaseUntil } = command;
  const { lease } = inProgress(state, service, work);
  switch (command.type) {
    case 'RenewExecutionLease':
      if (lease?.executor.replica !== executor.replica) {
        const holder = lease ? `it is leased to ${describeExecutor(lease.executor)}` : 'it holds no lease';
        const why = `${describeExecutor(executor)} cannot renew its lease on ${work.kind} ${work.id}: ${holder}`;
        throw new InvariantViolated('lease-lost', why);
      }
      return [{ type: 'ExecutionLeaseRenewed', data: { service, work, executor, leaseUntil } }];
    case 'TakeOverExecution':
      if (!executionLeaseLapsed(lease, command.now)) {
        const why =
          `${work.kind} ${work.id} of ${service} is leased to ${describeExecutor(lease!.executor)} ` +
          `until ${lease!.until}: it is taken over only once that has passed`;
        throw new InvariantViolated('lease-held', why);
      }
      return [
        {
          type: 'ExecutionTakenOver',
          data: { service, work, executor, ...(lease && { from: lease.executor }), leaseUntil },
        },
      ];
  }
}
