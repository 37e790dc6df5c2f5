import type { DomainEvent, EventData } from '../events/catalogue.js';
import { InvariantViolated } from './decider.js';
import { assertLeaseHeld } from './execution-lease.js';
import type { ExecutionLease, Executor } from './lease.js';
import { isRollbackActive, type Rollback, type RollbackStatus, type ServiceState } from './service.js';

/**
 * How long a restored release is watched before its rollback counts as verified, unless configured
 * otherwise: three probes 2 s apart and at least 10 tool calls (the verifier makes up thin traffic).
 * A failure starting later is left to the rollback policy's rules, which keep watching.
 */
export const DEFAULT_VERIFICATION_WINDOW_MS = 4_000;

export interface Identity {
  readonly id: string;
  readonly roles: readonly string[];
}

export type RollbackCommand =
  | ({ readonly type: 'DecideRollback' } & EventData<'RollbackDecided'>)
  | {
      readonly type: 'RequestRollback';
      readonly service: string;
      readonly rollbackId: string;
      readonly requestedBy: string;
      readonly reason: string;
      readonly targetRelease?: string;
    }
  | {
      readonly type: 'ApproveRollback';
      readonly service: string;
      readonly rollbackId: string;
      readonly approver: Identity;
      readonly now: Date;
      readonly validForMs: number;
    }
  | {
      readonly type: 'RejectRollback';
      readonly service: string;
      readonly rollbackId: string;
      readonly rejectedBy: string;
      readonly reason: string;
    }
  | {
      readonly type: 'StartRollback';
      readonly service: string;
      readonly rollbackId: string;
      readonly now: Date;
      /** The executor starting it holds it until then, unless it renews. */
      readonly lease?: ExecutionLease;
    }
  | {
      readonly type: 'CompleteRollback';
      readonly service: string;
      readonly rollbackId: string;
      /** The executor recording it: refused unless it still holds the lease. */
      readonly executor?: Executor;
    }
  | {
      readonly type: 'FailRollback';
      readonly service: string;
      readonly rollbackId: string;
      readonly reason: string;
      readonly executor?: Executor;
    }
  | {
      readonly type: 'EscalateRollback';
      readonly service: string;
      readonly rollbackId: string;
      readonly reason: string;
      readonly severity: EventData<'RollbackEscalated'>['severity'];
    }
  | {
      readonly type: 'RecordRollbackVerification';
      readonly service: string;
      readonly rollbackId: string;
      readonly checks: EventData<'RollbackVerified'>['checks'];
    };

const APPROVER_ROLES = ['approver', 'admin'];

function assertNoActiveRollback(state: ServiceState, service: string): void {
  if (isRollbackActive(state)) {
    throw new InvariantViolated(
      'one-rollback-at-a-time',
      `rollback ${state.rollback!.id} of ${service} is already ${state.rollback!.status}`,
    );
  }
}

function rollbackIn(
  state: ServiceState,
  command: { service: string; rollbackId: string },
  allowed: readonly RollbackStatus[],
): Rollback {
  const rollback = state.rollback;
  if (!rollback || rollback.id !== command.rollbackId) {
    throw new InvariantViolated('unknown-rollback', `${command.service} has no rollback ${command.rollbackId}`);
  }
  if (!allowed.includes(rollback.status)) {
    throw new InvariantViolated(
      'rollback-wrong-status',
      `rollback ${rollback.id} of ${command.service} is ${rollback.status}, expected ${allowed.join(' or ')}`,
    );
  }
  return rollback;
}

/** Where a full rollback goes: the release asked for, else the last known good one. */
function targetOf(
  state: ServiceState,
  rollback: Pick<Rollback, 'mode' | 'migration' | 'targetRelease'>,
  service: string,
): string {
  // Disabling a feature or reverting a migration keeps the release that runs.
  if (rollback.mode === 'disable_feature' || rollback.migration) return state.currentRelease ?? 'unknown';
  const target = rollback.targetRelease ?? state.lastKnownGood;
  if (!target) {
    throw new InvariantViolated(
      'no-release-to-roll-back-to',
      `${service} has no last known good release and none was named`,
    );
  }
  if (target === state.currentRelease) {
    throw new InvariantViolated('already-on-target-release', `${service} already runs ${target}`);
  }
  return target;
}

/** Why a release rollback decided now could never be carried out; undefined when it can. */
function nothingToRollBackTo(state: ServiceState, data: EventData<'RollbackDecided'>): string | undefined {
  if (data.mode === 'disable_feature' || data.migration) return undefined;
  const target = data.targetRelease ?? state.lastKnownGood;
  if (target && target !== state.currentRelease) return undefined;
  const running = state.currentRelease ? `runs ${state.currentRelease}` : 'runs no known release';
  return (
    `nothing to roll back to: ${data.service} ${running} and has no other last known good release; ` +
    `a person must act (fix forward, or roll back with \`failsafe rollback ${data.service} --to <release>\`)`
  );
}

export function decideRollback(state: ServiceState, command: RollbackCommand): DomainEvent[] {
  const { service, rollbackId } = command;
  switch (command.type) {
    case 'DecideRollback': {
      const { type: _, ...data } = command;
      // An automatic decision does not wait behind a manual one still awaiting approval: it replaces it.
      const pending = state.rollback;
      const supersedes = data.mode === 'automatic' && pending?.status === 'awaiting_approval';
      if (!supersedes) assertNoActiveRollback(state, service);
      // A decision no executor could carry out is escalated in the same append: never left hanging.
      const stuck = nothingToRollBackTo(state, data);
      const rejected =
        supersedes &&
        ({
          type: 'RollbackRejected',
          data: {
            rollbackId: pending.id,
            service,
            rejectedBy: `policy:${data.rule}`,
            reason: `superseded by automatic rollback ${data.rollbackId}`,
          },
        } as const);
      const escalated =
        stuck &&
        ({
          type: 'RollbackEscalated',
          data: { rollbackId, service, reason: stuck, severity: data.severity ?? 'P1' },
        } as const);
      return [...(rejected ? [rejected] : []), { type: 'RollbackDecided', data }, ...(escalated ? [escalated] : [])];
    }
    case 'RequestRollback': {
      assertNoActiveRollback(state, service);
      if (!state.currentRelease) {
        const why = `${service} runs no release yet: nothing to roll back; deploy one instead`;
        throw new InvariantViolated('nothing-to-roll-back', why);
      }
      targetOf(state, { mode: 'manual', targetRelease: command.targetRelease }, service);
      const { type: _, ...data } = command;
      return [{ type: 'RollbackRequested', data }];
    }
    case 'ApproveRollback': {
      const rollback = rollbackIn(state, command, ['awaiting_approval']);
      const { approver } = command;
      if (!approver.roles.some((role) => APPROVER_ROLES.includes(role))) {
        throw new InvariantViolated('approver-role-required', `${approver.id} lacks the approver role`);
      }
      if (approver.id === rollback.requestedBy) {
        throw new InvariantViolated(
          'second-identity-approval',
          `${approver.id} requested rollback ${rollbackId} and cannot also approve it`,
        );
      }
      const expiresAt = new Date(command.now.getTime() + command.validForMs).toISOString();
      return [{ type: 'RollbackApproved', data: { rollbackId, service, approvedBy: approver.id, expiresAt } }];
    }
    case 'RejectRollback': {
      rollbackIn(state, command, ['awaiting_approval', 'decided', 'approved']);
      return [
        {
          type: 'RollbackRejected',
          data: { rollbackId, service, rejectedBy: command.rejectedBy, reason: command.reason },
        },
      ];
    }
    case 'StartRollback': {
      const rollback = rollbackIn(state, command, ['decided', 'approved', 'failed']);
      const needsApproval = rollback.mode === 'manual';
      if (needsApproval && (!rollback.approval || command.now.getTime() >= Date.parse(rollback.approval.expiresAt))) {
        throw new InvariantViolated(
          'approval-expired',
          `the approval of rollback ${rollbackId} expired at ${rollback.approval?.expiresAt}; ask for a new approval`,
        );
      }
      const fromRelease = rollback.fromRelease ?? state.currentRelease ?? 'unknown';
      const { lease } = command;
      return [
        {
          type: 'RollbackStarted',
          data: {
            rollbackId,
            service,
            fromRelease,
            toRelease: rollback.toRelease ?? targetOf(state, rollback, service),
            ...(lease && { executor: lease.executor, leaseUntil: lease.until }),
          },
        },
      ];
    }
    case 'CompleteRollback': {
      const rollback = rollbackIn(state, command, ['in_progress']);
      assertLeaseHeld(rollback.lease, command.executor, `rollback ${rollbackId} of ${service}`);
      const release = rollback.toRelease!;
      const undone =
        state.deployment && state.deployment.release !== release && state.deployment.status !== 'rolled_back'
          ? state.deployment
          : undefined;
      return [
        { type: 'RollbackCompleted', data: { rollbackId, service, release } },
        ...(undone
          ? [
              {
                type: 'DeploymentRolledBack',
                data: { deploymentId: undone.id, service, release: undone.release, toRelease: release, rollbackId },
              } as const,
            ]
          : []),
      ];
    }
    case 'FailRollback': {
      const rollback = rollbackIn(state, command, ['in_progress']);
      assertLeaseHeld(rollback.lease, command.executor, `rollback ${rollbackId} of ${service}`);
      return [
        {
          type: 'RollbackFailed',
          data: { rollbackId, service, reason: command.reason, attempt: rollback.attempts + 1 },
        },
      ];
    }
    case 'EscalateRollback': {
      const escalable = ['decided', 'awaiting_approval', 'approved', 'in_progress', 'failed', 'completed'] as const;
      const rollback = rollbackIn(state, command, escalable);
      // A completed rollback is escalated only when its verification failed: the service did not recover.
      if (rollback.status === 'completed' && rollback.verified !== false) {
        const why = `rollback ${rollbackId} of ${service} completed and was not found failing`;
        throw new InvariantViolated('rollback-recovered', why);
      }
      return [
        {
          type: 'RollbackEscalated',
          data: { rollbackId, service, reason: command.reason, severity: command.severity },
        },
      ];
    }
    case 'RecordRollbackVerification': {
      const rollback = rollbackIn(state, command, ['completed']);
      if (rollback.verified !== undefined) {
        const why = `rollback ${rollbackId} of ${service} was already verified`;
        throw new InvariantViolated('rollback-already-verified', why);
      }
      const passed = command.checks.every((check) => check.passed);
      return [{ type: 'RollbackVerified', data: { rollbackId, service, passed, checks: command.checks } }];
    }
  }
}
