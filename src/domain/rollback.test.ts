import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '../events/catalogue.js';
import { given } from './given-when-then.js';
import { serviceDecider } from './service-decider.js';

const service = 'payments';
const evidence = ['0195f2a4-8c1e-7d3a-9b2f-5e6d7c8b9a01'];
const onV2WithGoodV1: DomainEvent[] = [
  { type: 'DeploymentRequested', data: { deploymentId: 'd-1', service, release: 'v1', previousRelease: null } },
  { type: 'DeploymentStarted', data: { deploymentId: 'd-1', service, release: 'v1' } },
  { type: 'DeploymentHealthy', data: { deploymentId: 'd-1', service, release: 'v1' } },
  { type: 'DeploymentRequested', data: { deploymentId: 'd-2', service, release: 'v2', previousRelease: 'v1' } },
  { type: 'DeploymentStarted', data: { deploymentId: 'd-2', service, release: 'v2' } },
];
const decision = {
  rollbackId: 'r-1',
  service,
  mode: 'automatic',
  rule: 'error_rate_critical',
  threshold: 0.1,
  observed: 0.3,
  evidenceEventIds: evidence,
} as const;
const automatic: DomainEvent = { type: 'RollbackDecided', data: decision };
const requested: DomainEvent = {
  type: 'RollbackRequested',
  data: { rollbackId: 'r-2', service, requestedBy: 'alice', reason: 'P95 above 2 s' },
};
const now = new Date('2026-11-24T10:00:00.000Z');
const approvedUntil = (expiresAt: string): DomainEvent => ({
  type: 'RollbackApproved',
  data: { rollbackId: 'r-2', service, approvedBy: 'bob', expiresAt },
});
const bob = { id: 'bob', roles: ['approver'] };

describe('rollback decider', () => {
  it('decides once: a second decision while one is active is refused', () => {
    given(serviceDecider, ...onV2WithGoodV1)
      .when({ type: 'DecideRollback', ...decision, evidenceEventIds: evidence })
      .then(automatic);
    given(serviceDecider, ...onV2WithGoodV1, automatic)
      .when({ type: 'DecideRollback', ...decision, evidenceEventIds: evidence, rollbackId: 'r-9' })
      .thenViolates('one-rollback-at-a-time');
  });

  it('lets an automatic decision replace a manual one still awaiting approval', () => {
    given(serviceDecider, ...onV2WithGoodV1, requested)
      .when({ type: 'DecideRollback', ...decision, evidenceEventIds: evidence })
      .then(
        {
          type: 'RollbackRejected',
          data: {
            rollbackId: 'r-2',
            service,
            rejectedBy: 'policy:error_rate_critical',
            reason: 'superseded by automatic rollback r-1',
          },
        },
        automatic,
      );
    given(serviceDecider, ...onV2WithGoodV1, requested)
      .when({ type: 'DecideRollback', ...decision, mode: 'manual', evidenceEventIds: evidence })
      .thenViolates('one-rollback-at-a-time');
  });

  it('starts an automatic rollback towards the last known good release', () => {
    given(serviceDecider, ...onV2WithGoodV1, automatic)
      .when({ type: 'StartRollback', service, rollbackId: 'r-1', now })
      .then({ type: 'RollbackStarted', data: { rollbackId: 'r-1', service, fromRelease: 'v2', toRelease: 'v1' } });
  });

  it('reverts a migration on the release that runs, even with no last known good release', () => {
    const onlyV1 = onV2WithGoodV1.slice(0, 3);
    const stalled: DomainEvent = {
      type: 'RollbackDecided',
      data: {
        ...decision,
        mode: 'manual',
        rule: 'migration_stalled',
        migration: { migrationId: 'm-1', toStage: 'v1' },
      },
    };
    const approved: DomainEvent = {
      type: 'RollbackApproved',
      data: { rollbackId: 'r-1', service, approvedBy: 'bob', expiresAt: '2026-11-24T10:15:00.000Z' },
    };
    given(serviceDecider, ...onlyV1, stalled, approved)
      .when({ type: 'StartRollback', service, rollbackId: 'r-1', now })
      .then({ type: 'RollbackStarted', data: { rollbackId: 'r-1', service, fromRelease: 'v1', toRelease: 'v1' } });
  });

  it('completes, verifies, and frees the service for the next deployment', () => {
    const started: DomainEvent = {
      type: 'RollbackStarted',
      data: { rollbackId: 'r-1', service, fromRelease: 'v2', toRelease: 'v1' },
    };
    given(serviceDecider, ...onV2WithGoodV1, automatic, started)
      .when({ type: 'CompleteRollback', service, rollbackId: 'r-1' })
      .then(
        { type: 'RollbackCompleted', data: { rollbackId: 'r-1', service, release: 'v1' } },
        {
          type: 'DeploymentRolledBack',
          data: { deploymentId: 'd-2', service, release: 'v2', toRelease: 'v1', rollbackId: 'r-1' },
        },
      );
    const completed: DomainEvent = { type: 'RollbackCompleted', data: { rollbackId: 'r-1', service, release: 'v1' } };
    const undone: DomainEvent = {
      type: 'DeploymentRolledBack',
      data: { deploymentId: 'd-2', service, release: 'v2', toRelease: 'v1', rollbackId: 'r-1' },
    };
    given(serviceDecider, ...onV2WithGoodV1, automatic, started, completed)
      .when({
        type: 'RecordRollbackVerification',
        service,
        rollbackId: 'r-1',
        checks: [
          { name: 'health', passed: true },
          { name: 'tools', passed: false, detail: '5 of 6 tools' },
        ],
      })
      .then({
        type: 'RollbackVerified',
        data: {
          rollbackId: 'r-1',
          service,
          passed: false,
          checks: [
            { name: 'health', passed: true },
            { name: 'tools', passed: false, detail: '5 of 6 tools' },
          ],
        },
      });
    given(serviceDecider, ...onV2WithGoodV1, automatic, started, completed, undone)
      .when({ type: 'RequestDeployment', service, deploymentId: 'd-3', release: 'v3', now })
      .then({
        type: 'DeploymentRequested',
        data: { deploymentId: 'd-3', service, release: 'v3', previousRelease: 'v1', requestedAt: now.toISOString() },
      });
  });

  it('counts failed attempts, allows a retry, then escalation', () => {
    const started: DomainEvent = {
      type: 'RollbackStarted',
      data: { rollbackId: 'r-1', service, fromRelease: 'v2', toRelease: 'v1' },
    };
    const failed: DomainEvent = {
      type: 'RollbackFailed',
      data: { rollbackId: 'r-1', service, reason: 'driver timed out', attempt: 1 },
    };
    given(serviceDecider, ...onV2WithGoodV1, automatic, started, failed)
      .when({ type: 'StartRollback', service, rollbackId: 'r-1', now })
      .then(started);
    given(serviceDecider, ...onV2WithGoodV1, automatic, started, failed, started)
      .when({ type: 'FailRollback', service, rollbackId: 'r-1', reason: 'again' })
      .then({ type: 'RollbackFailed', data: { rollbackId: 'r-1', service, reason: 'again', attempt: 2 } });
    given(serviceDecider, ...onV2WithGoodV1, automatic, started, failed)
      .when({ type: 'EscalateRollback', service, rollbackId: 'r-1', reason: 'two attempts failed', severity: 'P1' })
      .then({
        type: 'RollbackEscalated',
        data: { rollbackId: 'r-1', service, reason: 'two attempts failed', severity: 'P1' },
      });
  });

  it('needs an approval from a second identity with the approver role before a manual rollback starts', () => {
    given(serviceDecider, ...onV2WithGoodV1, requested)
      .when({ type: 'StartRollback', service, rollbackId: 'r-2', now })
      .thenViolates('rollback-wrong-status', /awaiting_approval/);
    given(serviceDecider, ...onV2WithGoodV1, requested)
      .when({
        type: 'ApproveRollback',
        service,
        rollbackId: 'r-2',
        approver: { id: 'alice', roles: ['approver'] },
        now,
        validForMs: 900_000,
      })
      .thenViolates('second-identity-approval', /alice requested rollback r-2/);
    given(serviceDecider, ...onV2WithGoodV1, requested)
      .when({
        type: 'ApproveRollback',
        service,
        rollbackId: 'r-2',
        approver: { id: 'carol', roles: ['operator'] },
        now,
        validForMs: 900_000,
      })
      .thenViolates('approver-role-required');
    given(serviceDecider, ...onV2WithGoodV1, requested)
      .when({ type: 'ApproveRollback', service, rollbackId: 'r-2', approver: bob, now, validForMs: 900_000 })
      .then(approvedUntil('2026-11-24T10:15:00.000Z'));
  });

  it('refuses to start on an expired approval', () => {
    given(serviceDecider, ...onV2WithGoodV1, requested, approvedUntil('2026-11-24T09:59:59.000Z'))
      .when({ type: 'StartRollback', service, rollbackId: 'r-2', now })
      .thenViolates('approval-expired', /ask for a new approval/);
    given(serviceDecider, ...onV2WithGoodV1, requested, approvedUntil('2026-11-24T10:05:00.000Z'))
      .when({ type: 'StartRollback', service, rollbackId: 'r-2', now })
      .then({ type: 'RollbackStarted', data: { rollbackId: 'r-2', service, fromRelease: 'v2', toRelease: 'v1' } });
  });

  it('cannot roll back without a release to go to', () => {
    given(serviceDecider, { ...automatic })
      .when({ type: 'StartRollback', service, rollbackId: 'r-1', now })
      .thenViolates('no-release-to-roll-back-to');
  });

  it('escalates a release rollback decided with nothing to roll back to, in the same step', () => {
    const restored: DomainEvent[] = [
      automatic,
      { type: 'RollbackStarted', data: { rollbackId: 'r-1', service, fromRelease: 'v2', toRelease: 'v1' } },
      { type: 'RollbackCompleted', data: { rollbackId: 'r-1', service, release: 'v1' } },
    ];
    const why = (pattern: RegExp) => expect.stringMatching(pattern) as unknown as string;
    const again = { ...decision, rollbackId: 'r-3', rule: 'health_check_failures', severity: 'P0' } as const;
    given(serviceDecider, ...onV2WithGoodV1, ...restored)
      .when({ type: 'DecideRollback', ...again })
      .then(
        { type: 'RollbackDecided', data: again },
        {
          type: 'RollbackEscalated',
          data: {
            rollbackId: 'r-3',
            service,
            severity: 'P0',
            reason: why(/nothing to roll back to: payments runs v1 .*a person must act/),
          },
        },
      );
    given(serviceDecider, { type: 'ServiceRegistered', data: { service, source: 'fleet' } })
      .when({ type: 'DecideRollback', ...decision, mode: 'manual' })
      .then(
        { type: 'RollbackDecided', data: { ...decision, mode: 'manual' } },
        {
          type: 'RollbackEscalated',
          data: { rollbackId: 'r-1', service, severity: 'P1', reason: why(/runs no known release/) },
        },
      );
    const feature = { scope: 'tool', target: 'refund' } as const;
    const offTool = { ...decision, mode: 'disable_feature', rule: 'feature_bug', feature } as const;
    given(serviceDecider, ...onV2WithGoodV1, ...restored)
      .when({ type: 'DecideRollback', ...offTool })
      .then({ type: 'RollbackDecided', data: offTool });
  });

  it('escalates a completed rollback only when its verification failed, and verifies it once', () => {
    const started: DomainEvent = {
      type: 'RollbackStarted',
      data: { rollbackId: 'r-1', service, fromRelease: 'v2', toRelease: 'v1' },
    };
    const completed: DomainEvent = { type: 'RollbackCompleted', data: { rollbackId: 'r-1', service, release: 'v1' } };
    const verified = (passed: boolean): DomainEvent => ({
      type: 'RollbackVerified',
      data: { rollbackId: 'r-1', service, passed, checks: [{ name: 'health', passed }] },
    });
    const restored = [...onV2WithGoodV1, automatic, started, completed];
    const escalation = { service, rollbackId: 'r-1', reason: 'verification failed', severity: 'P0' } as const;
    const escalate = { type: 'EscalateRollback', ...escalation } as const;
    given(serviceDecider, ...restored, verified(false))
      .when(escalate)
      .then({ type: 'RollbackEscalated', data: escalation });
    given(serviceDecider, ...restored, verified(true))
      .when(escalate)
      .thenViolates('rollback-recovered');
    given(serviceDecider, ...restored)
      .when(escalate)
      .thenViolates('rollback-recovered');
    given(serviceDecider, ...restored, verified(false))
      .when({ type: 'RecordRollbackVerification', service, rollbackId: 'r-1', checks: [{ name: 'ok', passed: true }] })
      .thenViolates('rollback-already-verified');
  });

  it('lets a rejected request free the service', () => {
    given(serviceDecider, ...onV2WithGoodV1, requested)
      .when({ type: 'RejectRollback', service, rollbackId: 'r-2', rejectedBy: 'bob', reason: 'recovering' })
      .then({
        type: 'RollbackRejected',
        data: { rollbackId: 'r-2', service, rejectedBy: 'bob', reason: 'recovering' },
      });
  });
});
