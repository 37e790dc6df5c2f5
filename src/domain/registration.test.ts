import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '../events/catalogue.js';
import { foldEvents } from './decider.js';
import { given } from './given-when-then.js';
import { serviceDecider } from './service-decider.js';

const service = 'payments';
const registered: DomainEvent = { type: 'ServiceRegistered', data: { service, source: 'fleet' } };
const deployed: DomainEvent[] = [
  { type: 'DeploymentRequested', data: { deploymentId: 'd-1', service, release: 'v1' } },
  { type: 'DeploymentStarted', data: { deploymentId: 'd-1', service, release: 'v1' } },
  { type: 'DeploymentHealthy', data: { deploymentId: 'd-1', service, release: 'v1' } },
];
const decision = {
  rollbackId: 'r-1',
  service,
  mode: 'automatic',
  rule: 'error_rate_critical',
  threshold: 0.1,
  observed: 0.3,
} as const;
const now = new Date('2026-11-24T10:00:00.000Z');
const evidenceEventIds = ['0195f2a4-8c1e-7d3a-9b2f-5e6d7c8b9a01'];

describe('service registration', () => {
  it('registers once: registering again, as serve does at every start, records nothing', () => {
    given(serviceDecider).when({ type: 'RegisterService', service, source: 'fleet' }).then(registered);
    given(serviceDecider, registered).when({ type: 'RegisterService', service, source: 'api' }).then();
  });

  it('refuses deployments, rollbacks, decisions and tool changes for a service nobody registered', () => {
    const unknown = given(serviceDecider);
    unknown
      .when({ type: 'RequestDeployment', service, deploymentId: 'd-1', release: 'v1', now })
      .thenViolates('unknown-service', /"payments" is not a registered service/);
    unknown
      .when({ type: 'RequestRollback', service, rollbackId: 'r-1', requestedBy: 'alice', reason: 'typo' })
      .thenViolates('unknown-service');
    unknown.when({ type: 'DecideRollback', ...decision, evidenceEventIds }).thenViolates('unknown-service');
    unknown.when({ type: 'DisableFeature', service, scope: 'tool', target: 'refund' }).thenViolates('unknown-service');
    given(serviceDecider, registered)
      .when({ type: 'RequestDeployment', service, deploymentId: 'd-1', release: 'v1', now })
      .then({
        type: 'DeploymentRequested',
        data: { deploymentId: 'd-1', service, release: 'v1', previousRelease: null, requestedAt: now.toISOString() },
      });
  });

  it('counts a service recorded before registrations existed as registered', () => {
    expect(foldEvents(serviceDecider, deployed).registered).toBe(true);
    given(serviceDecider, ...deployed)
      .when({ type: 'RegisterService', service, source: 'fleet' })
      .then();
  });

  it('refuses a manual rollback of a service never deployed, or with nothing to go back to', () => {
    given(serviceDecider, registered)
      .when({ type: 'RequestRollback', service, rollbackId: 'r-1', requestedBy: 'alice', reason: 'just in case' })
      .thenViolates('nothing-to-roll-back', /payments runs no release yet/);
    given(serviceDecider, registered, ...deployed)
      .when({ type: 'RequestRollback', service, rollbackId: 'r-1', requestedBy: 'alice', reason: 'just in case' })
      .thenViolates('no-release-to-roll-back-to');
    given(serviceDecider, registered, ...deployed)
      .when({
        type: 'RequestRollback',
        service,
        rollbackId: 'r-1',
        requestedBy: 'alice',
        reason: 'same',
        targetRelease: 'v1',
      })
      .thenViolates('already-on-target-release');
  });
});
