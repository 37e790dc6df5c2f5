import type { DomainEvent, EventData } from '../events/catalogue.js';
import { InvariantViolated } from './decider.js';
import type { ServiceState } from './service.js';

export type RegistrationCommand = { readonly type: 'RegisterService' } & EventData<'ServiceRegistered'>;

/** Registering a service already registered records nothing: `serve --fleet` registers at every start. */
export function decideRegistration(state: ServiceState, command: RegistrationCommand): DomainEvent[] {
  if (state.registered) return [];
  const { type: _, ...data } = command;
  return [{ type: 'ServiceRegistered', data }];
}

/** Every other command needs a registered service: a misspelt name must not create a phantom one. */
export function assertRegistered(state: ServiceState, service: string): void {
  if (!state.registered) {
    throw new InvariantViolated(
      'unknown-service',
      `"${service}" is not a registered service; check the name (list_services, GET /api/v1/services), ` +
        'add it to the fleet file of `failsafe serve --fleet`, ' +
        'or register it (register_service, POST /api/v1/services)',
    );
  }
}
