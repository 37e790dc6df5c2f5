import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '../events/catalogue.js';
import { foldEvents } from './decider.js';
import { given } from './given-when-then.js';
import { serviceDecider } from './service-decider.js';

const service = 'payments';
const requested = (deploymentId: string, release: string, previousRelease: string | null = null): DomainEvent => ({
  type: 'DeploymentRequested',
  data: { deploymentId, service, release, previousRelease },
});
const started = (deploymentId: string, release: string): DomainEvent => ({ type: 'DeploymentStarted', data: { deploymentId, service, release } });
const healthy = (deploymentId: string, release: string): DomainEvent => ({ type: 'DeploymentHealthy', data: { deploymentId, service, release } });
const decided: DomainEvent = {
  type: 'RollbackDecided',
  data: { rollbackId: 'r-1', service, mode: 'automatic', rule: 'error_rate_critical', threshold: 0.1, observed: 0.3, evidenceEventIds: ['0195f2a4-8c1e-7d3a-9b2f-5e6d7c8b9a01'] },
};

describe('deployment decider', () => {
  it('requests a deployment, remembering the release it replaces', () => {
    given(serviceDecider, requested('d-1', 'v1'), started('d-1', 'v1'), healthy('d-1', 'v1'))
      .when({ type: 'RequestDeployment', service, deploymentId: 'd-2', release: 'v2' })
      .then(requested('d-2', 'v2', 'v1'));
  });

  it('starts, then marks healthy the requested deployment', () => {
    given(serviceDecider, requested('d-1', 'v1')).when({ type: 'StartDeployment', service, deploymentId: 'd-1' }).then(started('d-1', 'v1'));
    given(serviceDecider, requested('d-1', 'v1'), started('d-1', 'v1'))
      .when({ type: 'MarkDeploymentHealthy', service, deploymentId: 'd-1' })
      .then(healthy('d-1', 'v1'));
  });

  it('records a failed deployment with its reason', () => {
    given(serviceDecider, requested('d-1', 'v1'), started('d-1', 'v1'))
      .when({ type: 'MarkDeploymentFailed', service, deploymentId: 'd-1', reason: 'readiness timed out' })
      .then({ type: 'DeploymentFailed', data: { deploymentId: 'd-1', service, release: 'v1', reason: 'readiness timed out' } });
  });

  it('cannot start while a rollback of the service is in progress', () => {
    given(serviceDecider, requested('d-1', 'v1'), started('d-1', 'v1'), healthy('d-1', 'v1'), requested('d-2', 'v2', 'v1'), decided)
      .when({ type: 'StartDeployment', service, deploymentId: 'd-2' })
      .thenViolates('deployment-blocked-by-rollback', /rollback r-1 of payments is decided/);
    given(serviceDecider, decided)
      .when({ type: 'RequestDeployment', service, deploymentId: 'd-3', release: 'v3' })
      .thenViolates('deployment-blocked-by-rollback');
  });

  it('keeps as last known good the healthy release a deployment replaced, not the one that merely passed readiness', () => {
    const state = foldEvents(serviceDecider, [requested('d-1', 'v1'), started('d-1', 'v1'), healthy('d-1', 'v1'), requested('d-2', 'v2', 'v1'), started('d-2', 'v2'), healthy('d-2', 'v2')]);
    expect(state).toMatchObject({ currentRelease: 'v2', currentReleaseHealthy: true, lastKnownGood: 'v1' });
    const first = foldEvents(serviceDecider, [requested('d-1', 'v1'), started('d-1', 'v1'), healthy('d-1', 'v1')]);
    expect(first.lastKnownGood).toBeUndefined();
  });

  it('after a failed deployment, names again the release that serves, with its health and last known good', () => {
    const failed = (id: string, release: string): DomainEvent => ({ type: 'DeploymentFailed', data: { deploymentId: id, service, release, reason: 'exited before it was ready' } });
    const onV2 = [requested('d-1', 'v1'), started('d-1', 'v1'), healthy('d-1', 'v1'), requested('d-2', 'v2', 'v1'), started('d-2', 'v2'), healthy('d-2', 'v2')];
    const state = foldEvents(serviceDecider, [...onV2, requested('d-3', 'v3', 'v2'), started('d-3', 'v3'), failed('d-3', 'v3')]);
    expect(state).toMatchObject({ currentRelease: 'v2', currentReleaseHealthy: true, lastKnownGood: 'v1', deployment: { id: 'd-3', status: 'failed' } });
    const first = foldEvents(serviceDecider, [requested('d-1', 'v1'), started('d-1', 'v1'), failed('d-1', 'v1')]);
    expect(first.currentRelease).toBeUndefined();
    const neverStarted = foldEvents(serviceDecider, [...onV2, requested('d-3', 'v3', 'v2'), failed('d-3', 'v3')]);
    expect(neverStarted).toMatchObject({ currentRelease: 'v2', currentReleaseHealthy: true, lastKnownGood: 'v1' });
  });

  it('allows one deployment at a time and refuses redeploying the running release', () => {
    given(serviceDecider, requested('d-1', 'v1'))
      .when({ type: 'RequestDeployment', service, deploymentId: 'd-2', release: 'v2' })
      .thenViolates('one-deployment-at-a-time');
    given(serviceDecider, requested('d-1', 'v1'), started('d-1', 'v1'), healthy('d-1', 'v1'))
      .when({ type: 'RequestDeployment', service, deploymentId: 'd-2', release: 'v1' })
      .thenViolates('release-already-running');
  });

  it('refuses steps out of order or for an unknown deployment', () => {
    given(serviceDecider, requested('d-1', 'v1'))
      .when({ type: 'MarkDeploymentHealthy', service, deploymentId: 'd-1' })
      .thenViolates('deployment-not-in-progress', /is requested, expected started/);
    given(serviceDecider, { type: 'ServiceRegistered', data: { service, source: 'fleet' } })
      .when({ type: 'StartDeployment', service, deploymentId: 'nope' })
      .thenViolates('unknown-deployment');
  });
});
