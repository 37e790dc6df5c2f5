import { z } from 'zod';
import { identifier, reason, releaseName, serviceName } from './common-schemas.js';
import { defineEvent } from './define-event.js';

const deployment = { deploymentId: identifier, service: serviceName, release: releaseName };

/** A deployment's life: requested → started → healthy | failed → rolled back. */
export const deploymentEvents = [
  defineEvent(
    'DeploymentRequested',
    z.strictObject({ ...deployment, previousRelease: releaseName.nullable().optional(), reason: reason.optional() }),
  ),
  defineEvent('DeploymentStarted', z.strictObject(deployment)),
  /** The release passed its readiness checks: it becomes the last known good release. */
  defineEvent('DeploymentHealthy', z.strictObject(deployment)),
  defineEvent('DeploymentFailed', z.strictObject({ ...deployment, reason })),
  defineEvent(
    'DeploymentRolledBack',
    z.strictObject({ ...deployment, toRelease: releaseName, rollbackId: identifier }),
  ),
] as const;
