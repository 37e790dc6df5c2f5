import { describe, it } from 'vitest';
import type { DomainEvent } from '../events/catalogue.js';
import { given } from './given-when-then.js';
import { serviceDecider } from './service-decider.js';

const service = 'payments';
const a = { replica: 'ops-1-41', host: 'ops-1', pid: 41 };
const b = { replica: 'ops-2-52', host: 'ops-2', pid: 52 };
const t0 = '2026-12-01T03:00:00.000Z';
const t30 = '2026-12-01T03:00:30.000Z';
const t60 = '2026-12-01T03:01:00.000Z';
const rollbackWork = { kind: 'rollback', id: 'r-1' } as const;
const deploymentWork = { kind: 'deployment', id: 'd-2' } as const;

const onV2WithGoodV1: DomainEvent[] = [
  { type: 'DeploymentRequested', data: { deploymentId: 'd-1', service, release: 'v1', previousRelease: null } },
  { type: 'DeploymentStarted', data: { deploymentId: 'd-1', service, release: 'v1' } },
  { type: 'DeploymentHealthy', data: { deploymentId: 'd-1', service, release: 'v1' } },
  { type: 'DeploymentRequested', data: { deploymentId: 'd-2', service, release: 'v2', previousRelease: 'v1' } },
  { type: 'DeploymentStarted', data: { deploymentId: 'd-2', service, release: 'v2' } },
  { type: 'DeploymentHealthy', data: { deploymentId: 'd-2', service, release: 'v2' } },
];
const decided: DomainEvent = {
  type: 'RollbackDecided',
  data: {
    rollbackId: 'r-1',
    service,
    mode: 'automatic',
    rule: 'error_rate_critical',
    threshold: 0.1,
    observed: 0.3,
    evidenceEventIds: ['0195f2a4-8c1e-7d3a-9b2f-5e6d7c8b9a01'],
  },
};
/** Started by `a`, its lease until `t30`. */
const startedByA: DomainEvent = {
  type: 'RollbackStarted',
  data: { rollbackId: 'r-1', service, fromRelease: 'v2', toRelease: 'v1', executor: a, leaseUntil: t30 },
};
const takeOver = (executor: typeof a, now: string) =>
  ({ type: 'TakeOverExecution', service, work: rollbackWork, executor, now, leaseUntil: t60 }) as const;
const takenOverByB: DomainEvent = {
  type: 'ExecutionTakenOver',
  data: { service, work: rollbackWork, executor: b, from: a, leaseUntil: t60 },
};

describe('execution lease', () => {
  it('is taken by the executor that starts a rollback', () => {
    given(serviceDecider, ...onV2WithGoodV1, decided)
      .when({
        type: 'StartRollback',
        service,
        rollbackId: 'r-1',
        now: new Date(t0),
        lease: { executor: a, until: t30 },
      })
      .then(startedByA);
  });

  it('is renewed by its holder only', () => {
    given(serviceDecider, ...onV2WithGoodV1, decided, startedByA)
      .when({ type: 'RenewExecutionLease', service, work: rollbackWork, executor: a, leaseUntil: t60 })
      .then({ type: 'ExecutionLeaseRenewed', data: { service, work: rollbackWork, executor: a, leaseUntil: t60 } });
    given(serviceDecider, ...onV2WithGoodV1, decided, startedByA, takenOverByB)
      .when({ type: 'RenewExecutionLease', service, work: rollbackWork, executor: a, leaseUntil: t60 })
      .thenViolates('lease-lost', /leased to ops-2-52 \(ops-2, pid 52\)/);
  });

  it('is taken over only once it has lapsed, and a renewal pushes that back', () => {
    given(serviceDecider, ...onV2WithGoodV1, decided, startedByA)
      .when(takeOver(b, '2026-12-01T03:00:29.999Z'))
      .thenViolates('lease-held', /leased to ops-1-41 .* until 2026-12-01T03:00:30.000Z/);
    given(serviceDecider, ...onV2WithGoodV1, decided, startedByA)
      .when(takeOver(b, t30))
      .then(takenOverByB);
    const renewed: DomainEvent = {
      type: 'ExecutionLeaseRenewed',
      data: { service, work: rollbackWork, executor: a, leaseUntil: t60 },
    };
    given(serviceDecider, ...onV2WithGoodV1, decided, startedByA, renewed)
      .when(takeOver(b, '2026-12-01T03:00:45.000Z'))
      .thenViolates('lease-held');
  });

  it('takes over a rollback started before leases at once: it names no executor', () => {
    const unleased: DomainEvent = {
      type: 'RollbackStarted',
      data: { rollbackId: 'r-1', service, fromRelease: 'v2', toRelease: 'v1' },
    };
    given(serviceDecider, ...onV2WithGoodV1, decided, unleased)
      .when(takeOver(b, t0))
      .then({ type: 'ExecutionTakenOver', data: { service, work: rollbackWork, executor: b, leaseUntil: t60 } });
  });

  it('leaves the executor that lost it unable to record the outcome', () => {
    given(serviceDecider, ...onV2WithGoodV1, decided, startedByA, takenOverByB)
      .when({ type: 'CompleteRollback', service, rollbackId: 'r-1', executor: a })
      .thenViolates('lease-lost', /ops-1-41 \(ops-1, pid 41\) lost it and stops acting on it/);
    given(serviceDecider, ...onV2WithGoodV1, decided, startedByA, takenOverByB)
      .when({ type: 'FailRollback', service, rollbackId: 'r-1', reason: 'timed out', executor: a })
      .thenViolates('lease-lost');
    given(serviceDecider, ...onV2WithGoodV1, decided, startedByA, takenOverByB)
      .when({ type: 'CompleteRollback', service, rollbackId: 'r-1', executor: b })
      .then(
        { type: 'RollbackCompleted', data: { rollbackId: 'r-1', service, release: 'v1' } },
        {
          type: 'DeploymentRolledBack',
          data: { deploymentId: 'd-2', service, release: 'v2', toRelease: 'v1', rollbackId: 'r-1' },
        },
      );
  });

  it('is never taken over on work no longer in progress', () => {
    const completed: DomainEvent = { type: 'RollbackCompleted', data: { rollbackId: 'r-1', service, release: 'v1' } };
    given(serviceDecider, ...onV2WithGoodV1, decided, startedByA, completed)
      .when(takeOver(b, t60))
      .thenViolates('work-not-in-progress', /rollback r-1 of payments is completed/);
  });

  it('guards a deployment the same way', () => {
    const requested: DomainEvent = {
      type: 'DeploymentRequested',
      data: { deploymentId: 'd-3', service, release: 'v3', previousRelease: 'v2' },
    };
    const started: DomainEvent = {
      type: 'DeploymentStarted',
      data: { deploymentId: 'd-3', service, release: 'v3', executor: a, leaseUntil: t30 },
    };
    const work = { kind: 'deployment', id: 'd-3' } as const;
    given(serviceDecider, ...onV2WithGoodV1, requested)
      .when({ type: 'StartDeployment', service, deploymentId: 'd-3', lease: { executor: a, until: t30 } })
      .then(started);
    given(serviceDecider, ...onV2WithGoodV1, requested, started)
      .when({ type: 'TakeOverExecution', service, work, executor: b, now: t0, leaseUntil: t60 })
      .thenViolates('lease-held');
    const takenOver: DomainEvent = {
      type: 'ExecutionTakenOver',
      data: { service, work, executor: b, from: a, leaseUntil: t60 },
    };
    given(serviceDecider, ...onV2WithGoodV1, requested, started)
      .when({ type: 'TakeOverExecution', service, work, executor: b, now: t30, leaseUntil: t60 })
      .then(takenOver);
    given(serviceDecider, ...onV2WithGoodV1, requested, started, takenOver)
      .when({ type: 'MarkDeploymentHealthy', service, deploymentId: 'd-3', executor: a })
      .thenViolates('lease-lost');
    given(serviceDecider, ...onV2WithGoodV1, requested, started, takenOver)
      .when({ type: 'MarkDeploymentHealthy', service, deploymentId: 'd-3', executor: b })
      .then({ type: 'DeploymentHealthy', data: { deploymentId: 'd-3', service, release: 'v3' } });
    given(serviceDecider, ...onV2WithGoodV1)
      .when({ type: 'TakeOverExecution', service, work: deploymentWork, executor: b, now: t60, leaseUntil: t60 })
      .thenViolates('work-not-in-progress', /deployment d-2 of payments is healthy/);
  });
});
