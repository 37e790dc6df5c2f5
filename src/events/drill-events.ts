import { z } from 'zod';
import { actorName, identifier, label, milliseconds, serviceName, timestamp } from './common-schemas.js';
import { defineEvent } from './define-event.js';

const run = { runId: identifier };
const detail = z.string().max(4000);
/** The process that runs a drill: a run whose process is gone is closed as aborted by the next runner. */
const runner = z.strictObject({ host: z.string().min(1).max(255), pid: z.number().int().positive() });
const position = z.string().regex(/^\d{1,20}$/);

/** Every step of a chaos drill, so a scorecard can be rebuilt from history alone. */
export const drillEvents = [
  // The scheduler's claim of one slot of a drill's schedule: appended at the schedule stream's
  // revision, so that of several Failsafe processes exactly one runs each slot.
  defineEvent(
    'DrillScheduleSet',
    z.strictObject({ drill: identifier, cron: z.string().min(1).max(200), since: timestamp }),
  ),
  // A claim holds until `leaseUntil` (absent on claims from before leases: those never expire); the
  // Failsafe holding it renews it while its run goes on; once it has lapsed, another may take the slot over.
  defineEvent(
    'DrillSlotClaimed',
    z.strictObject({ drill: identifier, slot: timestamp, runId: identifier, leaseUntil: timestamp.optional() }),
  ),
  defineEvent('DrillSlotLeaseRenewed', z.strictObject({ drill: identifier, runId: identifier, leaseUntil: timestamp })),
  defineEvent(
    'DrillSlotTakenOver',
    z.strictObject({ drill: identifier, slot: timestamp, runId: identifier, from: identifier, leaseUntil: timestamp }),
  ),
  defineEvent('DrillSlotRunEnded', z.strictObject({ drill: identifier, runId: identifier })),
  // Asked for through the API; the drill runner picks it up and records DrillStarted for the same run.
  defineEvent('DrillRequested', z.strictObject({ ...run, drill: identifier, requestedBy: actorName })),
  defineEvent(
    'DrillStarted',
    z.strictObject({
      ...run,
      drill: identifier,
      trigger: z.enum(['schedule', 'manual']),
      scheduledFor: timestamp.optional(),
      // Which process runs it: a run whose process is gone is closed as aborted by the next runner.
      runner: runner.optional(),
    }),
  ),
  defineEvent(
    'DrillStepRecorded',
    z.strictObject({
      ...run,
      step: label,
      status: z.enum(['started', 'passed', 'failed', 'skipped']),
      detail: detail.optional(),
    }),
  ),
  defineEvent(
    'DrillFaultInjected',
    z.strictObject({
      ...run,
      fault: z.strictObject({
        kind: z.enum(['toxic', 'release', 'migration']),
        name: identifier,
        toxicType: identifier.optional(),
        attributes: z.record(z.string(), z.unknown()).optional(),
      }),
    }),
  ),
  defineEvent('DrillFaultHealed', z.strictObject({ ...run, name: identifier })),
  defineEvent(
    'DrillExpectationEvaluated',
    z.strictObject({ ...run, expectation: label, passed: z.boolean(), observed: z.unknown().optional(), detail }),
  ),
  defineEvent(
    'DrillFinished',
    z.strictObject({
      ...run,
      outcome: z.enum(['passed', 'failed', 'aborted']),
      timeToDetectMs: milliseconds.optional(),
      timeToRecoverMs: milliseconds.optional(),
      abortReason: detail.optional(),
      // The drill's target: its health windows start afresh (the drill's samples judge nothing after it).
      service: serviceName.optional(),
    }),
  ),
  // How far the stale-run sweep has read $all, and the runs it found open there: the next sweep
  // reads on from that position instead of the whole history.
  defineEvent(
    'DrillRunsSwept',
    z.strictObject({
      position,
      open: z
        .array(
          z.strictObject({
            runId: identifier,
            startedAt: milliseconds,
            runner: runner.optional(),
            revision: position,
          }),
        )
        .max(10_000),
    }),
  ),
] as const;
