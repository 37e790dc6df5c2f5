import { describe, it } from 'vitest';
import { given } from './given-when-then.js';
import { serviceDecider } from './service-decider.js';

const service = 'search';
const registered = { type: 'ServiceRegistered', data: { service, source: 'fleet' } } as const;
const requested = { type: 'ScaleRequested', data: { service, scaleId: 's-1', replicas: 4, reason: 'peak' } } as const;

describe('scaling decider', () => {
  it('records a request of a registered service, and refuses one of an unknown service', () => {
    given(serviceDecider, registered)
      .when({ type: 'RequestScale', service, scaleId: 's-1', replicas: 4, reason: 'peak' })
      .then(requested);
    given(serviceDecider)
      .when({ type: 'RequestScale', service, scaleId: 's-1', replicas: 4 })
      .thenViolates('unknown-service');
  });

  it('records one outcome for the request waiting, and nothing for an ended or replaced one', () => {
    const completed = { type: 'ScaleCompleted', data: { service, scaleId: 's-1', replicas: 4, instances: 4 } } as const;
    given(serviceDecider, registered, requested)
      .when({ type: 'CompleteScale', service, scaleId: 's-1', replicas: 4, instances: 4 })
      .then(completed);
    given(serviceDecider, registered, requested, completed)
      .when({ type: 'FailScale', service, scaleId: 's-1', replicas: 4, reason: 'late' })
      .then();
    const newer = { type: 'ScaleRequested', data: { service, scaleId: 's-2', replicas: 2 } } as const;
    given(serviceDecider, registered, requested, newer)
      .when({ type: 'CompleteScale', service, scaleId: 's-1', replicas: 4, instances: 4 })
      .then();
    given(serviceDecider, registered, requested)
      .when({ type: 'FailScale', service, scaleId: 's-1', replicas: 4, reason: 'CannotScale' })
      .then({ type: 'ScaleFailed', data: { service, scaleId: 's-1', replicas: 4, reason: 'CannotScale' } });
  });
});
