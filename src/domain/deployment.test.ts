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
const now = new Date('2026-11-24T10:00:00.000Z');
/** The request as recorded: with the time it was asked for. */
const asked = (event: DomainEvent) =>
  ({ ...event, data: { ...event.data, requestedAt: now.toISOString() } }) as DomainEvent;
const started = (deploymentId: string, release: string): DomainEvent => ({
  type: 'DeploymentStarted',
  data: { deploymentId, service, release },
});
const healthy = (deploymentId: string, release: string): DomainEvent => ({
  type: 'DeploymentHealthy',
  data: { deploymentId, service, release },
});
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

describe('deployment decider', () => {
  it('requests a deployment, remembering the release it replaces', () => {
    given(serviceDecider, requested('d-1', 'v1'), started('d-1', 'v1'), healthy('d-1', 'v1'))
      .when({ type: 'RequestDeployment', service, deploymentId: 'd-2', release: 'v2', now })
      .then(asked(requested('d-2', 'v2', 'v1')));
  });

  it('starts, then marks healthy the requested deployment', () => {
    given(serviceDecider, requested('d-1', 'v1'))
      .when({ type: 'StartDeployment', service, deploymentId: 'd-1' })
      .then(started('d-1', 'v1'));
    given(serviceDecider, requested('d-1', 'v1'), started('d-1', 'v1'))
      .when({ type: 'MarkDeploymentHealthy', service, deploymentId: 'd-1' })
      .then(healthy('d-1', 'v1'));
  });

  it('records a failed deployment with its reason', () => {
    given(serviceDecider, requested('d-1', 'v1'), started('d-1', 'v1'))
      .when({ type: 'MarkDeploymentFailed', service, deploymentId: 'd-1', reason: 'readiness timed out' })
      .then({
        type: 'DeploymentFailed',
        data: { deploymentId: 'd-1', service, release: 'v1', reason: 'readiness timed out' },
      });
  });

  it('cannot start while a rollback of the service is in progress', () => {
    given(
      serviceDecider,
      requested('d-1', 'v1'),
      started('d-1', 'v1'),
      healthy('d-1', 'v1'),
      requested('d-2', 'v2', 'v1'),
      decided,
    )
      .when({ type: 'StartDeployment', service, deploymentId: 'd-2' })
      .thenViolates('deployment-blocked-by-rollback', /rollback r-1 of payments is decided/);
    given(serviceDecider, decided)
      .when({ type: 'RequestDeployment', service, deploymentId: 'd-3', release: 'v3', now })
      .thenViolates('deployment-blocked-by-rollback');
  });

  it('keeps as last known good the healthy release a deployment replaced, not the one that passed readiness', () => {
    const state = foldEvents(serviceDecider, [
      requested('d-1', 'v1'),
      started('d-1', 'v1'),
      healthy('d-1', 'v1'),
      requested('d-2', 'v2', 'v1'),
      started('d-2', 'v2'),
      healthy('d-2', 'v2'),
    ]);
    expect(state).toMatchObject({ currentRelease: 'v2', currentReleaseHealthy: true, lastKnownGood: 'v1' });
    const first = foldEvents(serviceDecider, [requested('d-1', 'v1'), started('d-1', 'v1'), healthy('d-1', 'v1')]);
    expect(first.lastKnownGood).toBeUndefined();
  });

  it('after a failed deployment, names again the release that serves, with its health and last known good', () => {
    const failed = (id: string, release: string): DomainEvent => ({
      type: 'DeploymentFailed',
      data: { deploymentId: id, service, release, reason: 'exited before it was ready' },
    });
    const onV2 = [
      requested('d-1', 'v1'),
      started('d-1', 'v1'),
      healthy('d-1', 'v1'),
      requested('d-2', 'v2', 'v1'),
      started('d-2', 'v2'),
      healthy('d-2', 'v2'),
    ];
    const state = foldEvents(serviceDecider, [
      ...onV2,
      requested('d-3', 'v3', 'v2'),
      started('d-3', 'v3'),
      failed('d-3', 'v3'),
    ]);
    expect(state).toMatchObject({
      currentRelease: 'v2',
      currentReleaseHealthy: true,
      lastKnownGood: 'v1',
      deployment: { id: 'd-3', status: 'failed' },
    });
    const first = foldEvents(serviceDecider, [requested('d-1', 'v1'), started('d-1', 'v1'), failed('d-1', 'v1')]);
    expect(first.currentRelease).toBeUndefined();
    const neverStarted = foldEvents(serviceDecider, [...onV2, requested('d-3', 'v3', 'v2'), failed('d-3', 'v3')]);
    expect(neverStarted).toMatchObject({ currentRelease: 'v2', currentReleaseHealthy: true, lastKnownGood: 'v1' });
  });

  it('allows one deployment at a time and refuses redeploying the running release', () => {
    given(serviceDecider, requested('d-1', 'v1'))
      .when({ type: 'RequestDeployment', service, deploymentId: 'd-2', release: 'v2', now })
      .thenViolates('one-deployment-at-a-time');
    given(serviceDecider, requested('d-1', 'v1'), started('d-1', 'v1'), healthy('d-1', 'v1'))
      .when({ type: 'RequestDeployment', service, deploymentId: 'd-2', release: 'v1', now })
      .thenViolates('release-already-running');
  });

  it('cancels a request no executor has started yet, and only such a request', () => {
    given(serviceDecider, asked(requested('d-1', 'v1')))
      .when({ type: 'CancelDeployment', service, deploymentId: 'd-1', cancelledBy: 'alice', reason: 'wrong release' })
      .then({
        type: 'DeploymentCancelled',
        data: { deploymentId: 'd-1', service, release: 'v1', cancelledBy: 'alice', reason: 'wrong release' },
      });
    given(serviceDecider, asked(requested('d-1', 'v1')), started('d-1', 'v1'))
      .when({ type: 'CancelDeployment', service, deploymentId: 'd-1', cancelledBy: 'alice' })
      .thenViolates('deployment-not-in-progress', /is started, expected requested/);
    const cancelled = foldEvents(serviceDecider, [
      asked(requested('d-1', 'v1')),
      { type: 'DeploymentCancelled', data: { deploymentId: 'd-1', service, release: 'v1', cancelledBy: 'alice' } },
    ]);
    expect(cancelled.deployment?.status).toBe('cancelled');
    given(serviceDecider, asked(requested('d-1', 'v1')), {
      type: 'DeploymentCancelled',
      data: { deploymentId: 'd-1', service, release: 'v1', cancelledBy: 'alice' },
    })
      .when({ type: 'StartDeployment', service, deploymentId: 'd-1' })
      .thenViolates('deployment-not-in-progress');
  });

  it('expires a request once it has waited the maximum time, judged by the time the command carries', () => {
    const later = (minutes: number) => new Date(now.getTime() + minutes * 60_000);
    const expire = (at: Date) =>
      ({ type: 'ExpireDeployment', service, deploymentId: 'd-1', now: at, maxAgeMs: 15 * 60_000 }) as const;
    given(serviceDecider, asked(requested('d-1', 'v1')))
      .when(expire(later(14)))
      .thenViolates('deployment-not-expired', /requested at 2026-11-24T10:00:00.000Z/);
    given(serviceDecider, asked(requested('d-1', 'v1')))
      .when(expire(later(15)))
      .then({
        type: 'DeploymentExpired',
        data: {
          deploymentId: 'd-1',
          service,
          release: 'v1',
          requestedAt: now.toISOString(),
          expiredAt: later(15).toISOString(),
          maxAgeSeconds: 900,
        },
      });
    // Recorded before requests carried their time: its age is unknown, so it never runs.
    given(serviceDecider, requested('d-1', 'v1'))
      .when(expire(now))
      .then({
        type: 'DeploymentExpired',
        data: { deploymentId: 'd-1', service, release: 'v1', expiredAt: now.toISOString(), maxAgeSeconds: 900 },
      });
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
