import { AUDIT_STREAM } from '../domain/streams.js';
import type { EventStore } from '../event-store/event-store.js';
import type { StoreLocation } from '../event-store/store-url.js';
import { decodeEvent, encodeEvent, type EventData } from '../events/catalogue.js';
import { policyHash } from '../policy/policy-hash.js';
import type { RollbackPolicy } from '../policy/rollback-policy.js';
import type { Clock } from '../runtime/clock.js';
import type { SnapshotStore } from '../runtime/snapshot-store.js';
import { storeHistory } from './store-history.js';
import { verifyDecisions, type AuditReport } from './verify-decisions.js';

/** Who records verifications. */
export const AUDIT_ACTOR = 'failsafe:audit';

export interface VerificationRun {
  /** `ok` here includes a failure carried over from the verification this run went on from. */
  readonly report: AuditReport;
  readonly mode: 'full' | 'incremental';
  /** Why the whole history was verified, or where the run went on from. */
  readonly why: string;
  /** What was recorded in the audit stream for the next run (and for auditors). */
  readonly recorded: EventData<'AuditVerified'>;
}

export interface VerifyOptions {
  /** Verify the whole history whatever was verified before. */
  readonly fromStart?: boolean;
  readonly snapshotEvery?: number;
  /** See verifyDecisions' option of that name. */
  readonly readOnceUpTo?: number;
  /** Threads a full run folds in (see verifyDecisions): workers open the store again at `location`. */
  readonly threads?: number;
  readonly location?: StoreLocation;
}

async function lastVerification(store: EventStore) {
  for await (const recorded of store.readStream(AUDIT_STREAM, { direction: 'backwards', maxCount: 1 })) {
    const event = decodeEvent(recorded);
    // Only a verification this command recorded says how far the history was verified.
    if (event.type === 'AuditVerified' && event.metadata.actor === AUDIT_ACTOR) return event;
  }
  return undefined;
}

/**
 * `failsafe audit verify`: goes on from the last recorded verification made with the same policy
 * (from a snapshot of the verification's state there), or verifies the whole history when asked, when
 * none was recorded, when the policy changed or when no snapshot of it is kept; then records how far
 * it got. A verification that failed stays failed in the runs that go on from it, even if the state
 * they carry no longer shows why: only a full run clears it.
 */
export async function verifyAndRecord(
  store: EventStore,
  policy: RollbackPolicy,
  snapshots: SnapshotStore,
  clock: Clock,
  options: VerifyOptions = {},
): Promise<VerificationRun> {
  const hash = policyHash(policy);
  const last = options.fromStart ? undefined : await lastVerification(store);
  const lastThrough = last && `position ${last.data.throughPosition} (${last.metadata.occurredAt})`;
  const samePolicy = last?.data.policyHash === hash;
  const resumeAfter = last && samePolicy ? BigInt(last.data.throughPosition) : undefined;
  const computed = await verifyDecisions(storeHistory(store), policy, {
    snapshots,
    ...(resumeAfter !== undefined && { resumeAfter }),
    ...(options.snapshotEvery && { snapshotEvery: options.snapshotEvery }),
    ...(options.readOnceUpTo !== undefined && { readOnceUpTo: options.readOnceUpTo }),
    ...(options.threads !== undefined && { threads: options.threads }),
    ...(options.location && { store: options.location }),
  });
  const incremental = computed.fromPosition !== '-1';
  const carriedFailure = incremental && last?.data.ok === false && computed.ok;
  const report = carriedFailure ? { ...computed, ok: false } : computed;
  const why = incremental
    ? `incremental from position ${computed.fromPosition}, after the verification through ${lastThrough}` +
      (carriedFailure ? '; that verification failed, and stays failed until a full run (--from-start) passes' : '')
    : options.fromStart
      ? 'full: asked to verify from the start'
      : !last
        ? 'full: no verification recorded yet'
        : !samePolicy
          ? `full: the policy changed since the verification through ${lastThrough}`
          : `full: no snapshot kept of the verification through ${lastThrough}`;
  const recorded: EventData<'AuditVerified'> = {
    policyHash: hash,
    mode: incremental ? 'incremental' : 'full',
    why: why.slice(0, 2000),
    fromPosition: computed.fromPosition,
    throughPosition: computed.throughPosition,
    eventsVerified: computed.eventsReplayed,
    eventsThisRun: computed.eventsThisRun,
    recordedDecisions: computed.recorded.length,
    notReproduced: computed.recorded.filter((r) => !r.reproduced).length,
    missingDecisions: computed.missing.length,
    telemetryDecisions: computed.telemetry.length,
    telemetryNotReproduced: computed.telemetry.filter((t) => !t.reproduced).length,
    ok: report.ok,
  };
  await store.append(
    AUDIT_STREAM,
    [encodeEvent({ type: 'AuditVerified', data: recorded }, { actor: AUDIT_ACTOR, occurredAt: clock.now() })],
    'any',
  );
  return { report, mode: recorded.mode, why, recorded };
}
