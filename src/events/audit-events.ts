import { z } from 'zod';
import { count, statedReason } from './common-schemas.js';
import { defineEvent } from './define-event.js';

const position = z.string().regex(/^-?\d+$/, 'a global position, as a whole number (-1: before the first event)');

/**
 * `failsafe audit verify` ran: how far the history has been verified against which policy, and with
 * what result. The next run starts from the last of these (same policy hash) instead of from zero.
 */
const auditVerified = z.strictObject({
  /** SHA-256 of the policy as loaded: a run with another policy verifies everything again. */
  policyHash: z.string().regex(/^[0-9a-f]{64}$/),
  mode: z.enum(['full', 'incremental']),
  /** Why the whole history was verified, or from where the run went on. */
  why: statedReason,
  /** Position of the last event this run started after (-1: from the first event). */
  fromPosition: position,
  /** Position of the last event verified: the whole history up to it has now been verified. */
  throughPosition: position,
  eventsVerified: count,
  eventsThisRun: count,
  recordedDecisions: count,
  notReproduced: count,
  missingDecisions: count,
  telemetryDecisions: count,
  telemetryNotReproduced: count,
  ok: z.boolean(),
});

export const auditEvents = [defineEvent('AuditVerified', auditVerified)] as const;
