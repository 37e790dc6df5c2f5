import { z } from 'zod';
import { reason, serviceName } from './common-schemas.js';
import { defineEvent } from './define-event.js';

/**
 * A service exists because a fleet file (`serve --fleet`) or a person (register_service) says so:
 * deployments, rollbacks and decisions for any other name are refused, so a typo creates nothing.
 */
export const serviceEvents = [
  defineEvent(
    'ServiceRegistered',
    z.strictObject({ service: serviceName, source: z.enum(['fleet', 'api']), reason: reason.optional() }),
  ),
] as const;
