import { z } from 'zod';
import { identifier, label, serviceName, timestamp } from './common-schemas.js';
import { defineEvent } from './define-event.js';

/** Which Failsafe carries out a piece of work: its replica name, and the host and process it runs as. */
export const executor = z.strictObject({
  replica: label,
  host: z.string().min(1).max(255),
  pid: z.number().int().positive(),
});

/** The work a lease is on: the rollback or deployment of the service's stream with this id. */
export const leasedWork = z.strictObject({ kind: z.enum(['rollback', 'deployment']), id: identifier });

/**
 * A rollback or deployment in progress is leased to the executor that started it (RollbackStarted and
 * DeploymentStarted carry the first lease). It renews the lease while it works; once the lease has
 * lapsed, another executor takes the work over, and the one that lost it stops acting.
 */
export const executionEvents = [
  defineEvent(
    'ExecutionLeaseRenewed',
    z.strictObject({ service: serviceName, work: leasedWork, executor, leaseUntil: timestamp }),
  ),
  defineEvent(
    'ExecutionTakenOver',
    z.strictObject({
      service: serviceName,
      work: leasedWork,
      executor,
      /** Absent when the work was started before leases existed. */
      from: executor.optional(),
      leaseUntil: timestamp,
    }),
  ),
] as const;
