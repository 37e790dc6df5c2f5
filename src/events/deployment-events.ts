import { z } from 'zod';
import { actorName, identifier, reason, releaseName, serviceName, timestamp } from './common-schemas.js';
import { defineEvent } from './define-event.js';
import { executor } from './execution-events.js';

const deployment = { deploymentId: identifier, service: serviceName, release: releaseName };

/**
 * A deployment's life: requested → started → healthy | failed → rolled back; a request no executor
 * started may be cancelled by a person or expire.
 */
export const deploymentEvents = [
  defineEvent(
    'DeploymentRequested',
    z.strictObject({
      ...deployment,
      previousRelease: releaseName.nullable().optional(),
      reason: reason.optional(),
      /** When it was asked for, so that it can expire (absent in histories recorded before). */
      requestedAt: timestamp.optional(),
    }),
  ),
  // The executor that starts a deployment holds its lease (absent on deployments started before leases).
  defineEvent(
    'DeploymentStarted',
    z.strictObject({ ...deployment, executor: executor.optional(), leaseUntil: timestamp.optional() }),
  ),
  /** The release passed its readiness checks: it becomes the last known good release. */
  defineEvent('DeploymentHealthy', z.strictObject(deployment)),
  defineEvent('DeploymentFailed', z.strictObject({ ...deployment, reason })),
  defineEvent(
    'DeploymentCancelled',
    z.strictObject({ ...deployment, cancelledBy: actorName, reason: reason.optional() }),
  ),
  /** Nothing started the request in time: it will never run. */
  defineEvent(
    'DeploymentExpired',
    z.strictObject({
      ...deployment,
      requestedAt: timestamp.optional(),
      expiredAt: timestamp,
      maxAgeSeconds: z.number().positive(),
    }),
  ),
  defineEvent(
    'DeploymentRolledBack',
    z.strictObject({ ...deployment, toRelease: releaseName, rollbackId: identifier }),
  ),
] as const;
