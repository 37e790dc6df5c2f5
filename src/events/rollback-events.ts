import { z } from 'zod';
import {
  actorName,
  alertFingerprint,
  count,
  eventId,
  identifier,
  label,
  reason,
  releaseName,
  serviceName,
  severity,
  stageName,
  timestamp,
} from './common-schemas.js';
import { defineEvent } from './define-event.js';
import { executor } from './execution-events.js';

const rollback = { rollbackId: identifier, service: serviceName };

/** A decision carries its evidence: the rule, its threshold, what was observed, and the events that tipped it. */
const decided = z.strictObject({
  ...rollback,
  mode: z.enum(['automatic', 'manual', 'disable_feature']),
  rule: identifier,
  threshold: z.number(),
  observed: z.number(),
  unit: z.string().max(32).optional(),
  window: z.strictObject({ from: timestamp, to: timestamp, sampleCount: count }).optional(),
  evidenceEventIds: z.array(eventId).min(1),
  targetRelease: releaseName.optional(),
  severity: severity.optional(),
  /** For a disable_feature decision: what to disable. */
  feature: z.strictObject({ scope: z.enum(['tool', 'agent', 'system']), target: identifier.optional() }).optional(),
  /** For a migration rule: the migration to revert and the stage to go back to. */
  migration: z.strictObject({ migrationId: identifier, toStage: stageName }).optional(),
  /** For an alert rule: the Prometheus alert that fired (its AlertReceived event is in the evidence). */
  alert: z
    .strictObject({
      alertname: label,
      fingerprint: alertFingerprint,
      startsAt: timestamp,
    })
    .optional(),
});

export const rollbackEvents = [
  defineEvent('RollbackDecided', decided),
  defineEvent(
    'RollbackRequested',
    z.strictObject({ ...rollback, requestedBy: actorName, reason, targetRelease: releaseName.optional() }),
  ),
  defineEvent('RollbackApproved', z.strictObject({ ...rollback, approvedBy: actorName, expiresAt: timestamp })),
  defineEvent('RollbackRejected', z.strictObject({ ...rollback, rejectedBy: actorName, reason })),
  // The executor that starts a rollback holds its lease (absent on rollbacks started before leases).
  defineEvent(
    'RollbackStarted',
    z.strictObject({
      ...rollback,
      fromRelease: releaseName,
      toRelease: releaseName,
      executor: executor.optional(),
      leaseUntil: timestamp.optional(),
    }),
  ),
  defineEvent('RollbackCompleted', z.strictObject({ ...rollback, release: releaseName })),
  defineEvent(
    'RollbackVerified',
    z.strictObject({
      ...rollback,
      passed: z.boolean(),
      checks: z
        .array(z.strictObject({ name: label, passed: z.boolean(), detail: z.string().max(2000).optional() }))
        .min(1),
    }),
  ),
  defineEvent('RollbackFailed', z.strictObject({ ...rollback, reason, attempt: z.number().int().min(1) })),
  defineEvent('RollbackEscalated', z.strictObject({ ...rollback, reason, severity })),
] as const;
