import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '../events/catalogue.js';
import { evolveService, initialServiceState } from './service.js';
import { given } from './given-when-then.js';
import { serviceDecider } from './service-decider.js';

const service = 'payments';
const registered = { type: 'ServiceRegistered', data: { service, source: 'fleet' } } as const;

describe('feature flag decider', () => {
  it('disables one tool, and records nothing when it is already disabled', () => {
    const disabled = {
      type: 'FeatureDisabled',
      data: { service, scope: 'tool', target: 'refund', reason: 'breaker open' },
    } as const;
    given(serviceDecider, registered)
      .when({ type: 'DisableFeature', service, scope: 'tool', target: 'refund', reason: 'breaker open' })
      .then(disabled);
    given(serviceDecider, disabled)
      .when({ type: 'DisableFeature', service, scope: 'tool', target: 'refund', reason: 'again' })
      .then();
  });

  it('re-enables a disabled agent, and only a disabled one', () => {
    const disabled = { type: 'FeatureDisabled', data: { service, scope: 'agent', target: 'inventory' } } as const;
    given(serviceDecider, disabled)
      .when({ type: 'EnableFeature', service, scope: 'agent', target: 'inventory' })
      .then({ type: 'FeatureEnabled', data: { service, scope: 'agent', target: 'inventory' } });
    given(serviceDecider, registered)
      .when({ type: 'EnableFeature', service, scope: 'agent', target: 'inventory' })
      .then();
  });

  it('switches the whole system to legacy mode', () => {
    given(serviceDecider, registered)
      .when({ type: 'DisableFeature', service, scope: 'system', reason: 'critical protocol error' })
      .then({ type: 'FeatureDisabled', data: { service, scope: 'system', reason: 'critical protocol error' } });
  });

  it('keeps a change pending until an outcome for the flags now in force is recorded', () => {
    const fold = (...events: DomainEvent[]) => events.reduce(evolveService, initialServiceState);
    const refund = { type: 'FeatureDisabled', data: { service, scope: 'tool', target: 'refund' } } as const;
    const legacy = { type: 'FeatureDisabled', data: { service, scope: 'system' } } as const;
    const inForce = { service, disabledTools: ['refund'], disabledAgents: [], legacyMode: false };
    const applied = { type: 'FeatureFlagsApplied', data: { ...inForce, instances: 2 } } as const;
    const failed = { type: 'FeatureFlagsFailed', data: { ...inForce, reason: 'RolloutFailed' } } as const;
    expect(fold(registered, refund).flagsPending).toBe(true);
    expect(fold(registered, refund, applied).flagsPending).toBe(false);
    expect(fold(registered, refund, failed).flagsPending).toBe(false);
    // Legacy mode was asked for while the refund change was being put in force: still to do.
    expect(fold(registered, refund, legacy, applied).flagsPending).toBe(true);
  });

  it('records the outcome the driver reports, as it comes', () => {
    const inForce = { service, disabledTools: ['refund'], disabledAgents: [], legacyMode: false };
    given(serviceDecider, registered)
      .when({ type: 'RecordFlagsApplied', ...inForce, instances: 2 })
      .then({ type: 'FeatureFlagsApplied', data: { ...inForce, instances: 2 } });
  });
});
