import { v5 as uuidv5 } from 'uuid';
import { serviceDecider } from '../domain/service-decider.js';
import type { EventStore } from '../event-store/event-store.js';
import type { EventData } from '../events/catalogue.js';
import { handleCommand } from './command-handler.js';
import { serviceStream } from '../domain/streams.js';

const REGISTRATION_NAMESPACE = '5b7e2c1d-9f3a-4e8b-a6c5-d4e3f2a1b0c9';

export interface Registration {
  readonly actor: string;
  readonly now: Date;
  readonly source: EventData<'ServiceRegistered'>['source'];
  readonly reason?: string;
}

/**
 * Registers each service not yet registered. Idempotent twice over: the decider records nothing
 * for a registered service, and the event id is derived from the name, so two Failsafe processes
 * starting together on one store record one registration.
 */
export async function registerServices(
  store: EventStore,
  services: Iterable<string>,
  registration: Registration,
): Promise<string[]> {
  const registered: string[] = [];
  for (const service of services) {
    const { source, reason, actor, now } = registration;
    const command = { type: 'RegisterService', service, source, ...(reason && { reason }) } as const;
    const eventIds = [uuidv5(`service-registered:${service}`, REGISTRATION_NAMESPACE)];
    const { events } = await handleCommand(store, serviceStream(service), serviceDecider, command, {
      actor,
      now,
      eventIds,
    });
    if (events.length > 0) registered.push(service);
  }
  return registered;
}
