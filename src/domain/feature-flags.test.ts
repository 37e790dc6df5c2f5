import { describe, it } from 'vitest';
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
});
