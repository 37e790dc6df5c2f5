import { healthWindowsProjection } from '../../projections/health-windows.js';
import { migrationProgressProjection } from '../../projections/migration-progress.js';
import { serviceStateProjection } from '../../projections/service-state.js';
import { telemetryFreshnessProjection } from '../../projections/telemetry-freshness.js';
import { rollbackDecisionsProjection } from '../policy/rollback-decisions.js';
import { policyHash } from '../policy/policy-hash.js';
import { retainSecondsFor, type RollbackPolicy } from '../policy/rollback-policy.js';
import type { StoreLocation } from '../event-store/store-url.js';
import type { TypedRecordedEvent } from '../events/catalogue.js';
import type { Snapshot, SnapshotKey, SnapshotStore } from '../runtime/snapshot-store.js';
import type { History } from './history.js';
import { FROM_ZERO, SnapshotTaker, usableSnapshot } from './snapshot-taker.js';
import { foldEvent, initialVerification, slot, type VerificationState } from './verification-fold.js';
import { foldSplit } from './verify-split.js';
import {
  expectDecisions,
  telemetryDecisionsByCause,
  telemetryDecisionsIn,
  telemetryVerdicts,
  type DecisionsByCause,
  type TelemetryVerdict,
} from './verify-telemetry-decisions.js';

export interface RecordedVerdict {
  readonly rollbackId: string;
  readonly service: string;
  readonly rule: string;
  readonly position: string;
  readonly reproduced: boolean;
}

export interface MissingDecision {
  readonly rollbackId: string;
  readonly service: string;
  readonly rule: string;
  /** The event after which the policy would have decided. */
  readonly tippingEventId: string;
  readonly tippingPosition: string;
}

export interface AuditReport {
  readonly eventsReplayed: number;
  readonly recorded: readonly RecordedVerdict[];
  readonly missing: readonly MissingDecision[];
  /** Each recorded stale or resumed telemetry, reproduced or not. */
  readonly telemetry: readonly TelemetryVerdict[];
  readonly ok: boolean;
  /** Position of the last event verified; -1 when the history is empty. */
  readonly throughPosition: string;
  /** Position of the snapshot this run went on from; -1 when it folded the history from its first event. */
  readonly fromPosition: string;
  /** Events this run folded itself (the others' effect came from the snapshot). */
  readonly eventsThisRun: number;
}

/** The verification's snapshots: of this code's fold, with this policy only. */
export const verificationSnapshots = (policy: RollbackPolicy): SnapshotKey => ({
  name: 'audit-verify',
  version: [
    'verification@1',
    `rollback-decisions@${rollbackDecisionsProjection(policy).version}`,
    ...[serviceStateProjection, healthWindowsProjection(retainSecondsFor(policy)), migrationProgressProjection].map(
      (p) => `${p.name}@${p.version}`,
    ),
    `${telemetryFreshnessProjection.name}@${telemetryFreshnessProjection.version}`,
  ].join(','),
  variant: policyHash(policy),
});

export interface VerifyOptions {
  /** Where to find the verification state to go on from, and to save it every `snapshotEvery` events and at the end. */
  readonly snapshots?: SnapshotStore;
  readonly snapshotEvery?: number;
  /**
   * Go on from the state at or before this position (where the last recorded verification got to,
   * with the same policy) instead of from zero, when a snapshot of it is kept.
   */
  readonly resumeAfter?: bigint;
  /** Events to fold up to which they are read once and kept for both passes (default READ_ONCE_UP_TO). */
  readonly readOnceUpTo?: number;
  /**
   * Threads a full run of more than `splitFrom` events folds the history in, split by service
   * (default 1). Workers open the history again from `store`; without it the run keeps to one thread.
   * Such a run saves its snapshot at its end only, whatever `snapshotEvery` says.
   */
  readonly threads?: number;
  readonly store?: StoreLocation;
  /** The events a history must exceed for a full run to split (default SPLIT_FROM). */
  readonly splitFrom?: number;
}

/**
 * Below this many events a full run is quicker in one thread: the workers' start and each
 * partition's read of the whole history cost more than the split saves (1.28 of one thread's time
 * at 100,000 events, 0.72 at 1 M, `bench/results-2026-12/verify-threads-1m.txt`).
 */
const SPLIT_FROM = 250_000;

/**
 * A run reads the events it folds twice: for the telemetry decisions recorded among them (the fold
 * must know of each before it reaches its cause), then to fold them. Up to this many (an incremental
 * run's usual tail), they are read once and kept in memory; a longer run streams them twice.
 */
const READ_ONCE_UP_TO = 50_000;

/** The events after `position`, when there are at most `upTo`; undefined when there are more. */
async function eventsAfter(
  history: History,
  position: bigint,
  upTo: number,
): Promise<TypedRecordedEvent[] | undefined> {
  const events: TypedRecordedEvent[] = [];
  for await (const event of history.readDecoded(position + 1n)) {
    if (events.length === upTo) return undefined;
    events.push(event);
  }
  return events;
}

/**
 * The verification's state carries the policy's windows of every service (about 30 MB of JSON at 50
 * services sampled every second): saving one costs about half a second and as many megabytes. A run
 * goes on from where the last one ended, so it saves one at its end, and one in a while on a long
 * run (an interrupted run, or a late telemetry decision, goes back to it); older ones are dropped.
 */
const VERIFICATION_SNAPSHOT_EVERY = 1_000_000;
const VERIFICATION_SNAPSHOTS_KEPT = 3;

/**
 * Where to go on from, and the recorded telemetry decisions the fold must check from there: a
 * decision recorded after the snapshot whose cause lies before it (and unknown to the snapshot) can
 * only be checked from an earlier snapshot, or from zero.
 */
async function startingPoint(
  history: History,
  key: SnapshotKey,
  options: VerifyOptions,
  resumable: Snapshot | undefined,
): Promise<{ start: Snapshot | undefined; byCause: DecisionsByCause; events: TypedRecordedEvent[] | undefined }> {
  const { snapshots } = options;
  let start = snapshots && resumable ? await usableSnapshot(history, snapshots, key, resumable) : undefined;
  for (;;) {
    const from = start?.position ?? -1n;
    const events = await eventsAfter(history, from, options.readOnceUpTo ?? READ_ONCE_UP_TO);
    const byCause = await (events ? telemetryDecisionsByCause(events) : telemetryDecisionsIn(history, from + 1n));
    if (!start || !snapshots) return { start, byCause, events };
    const known = (start.state as VerificationState).telemetry.verdicts;
    const unknownCauses = [...byCause].filter(([, ds]) => ds.some((d) => !known[d.id])).map(([cause]) => cause);
    const causes = await history.readEvents(unknownCauses);
    const before = [...causes.values()].map((e) => e.position).filter((p) => p <= start!.position);
    if (before.length === 0) return { start, byCause, events };
    const earliest = before.sort((a, b) => (a < b ? -1 : 1))[0]!;
    start = await usableSnapshot(history, snapshots, key, await snapshots.atOrBeforePosition(key, earliest - 1n));
  }
}

/** A run that will fold the whole history from zero, more than `splitFrom` events of it. */
async function longFullRun(history: History, options: VerifyOptions, resumable: Snapshot | undefined) {
  return !resumable && (await history.hasMoreThan(options.splitFrom ?? SPLIT_FROM));
}

/**
 * A full run in several threads (see `foldSplit`); it saves its state at the end only, where a
 * later run goes on from (an interrupted one starts again from zero).
 */
async function verifySplit(
  history: History,
  policy: RollbackPolicy,
  key: SnapshotKey,
  store: StoreLocation,
  threads: number,
  snapshots: SnapshotStore | undefined,
): Promise<AuditReport> {
  const { state, info } = await foldSplit(history, policy, store, threads);
  if (snapshots && info.eventsFolded > 0) {
    const { position, lastEventId, eventsFolded, maxEventTime, minEventTime } = info;
    const block = { blockFrom: -1n, blockMinEventTime: minEventTime };
    await snapshots.save(key, { position, lastEventId, eventsFolded, maxEventTime, ...block, state });
    await snapshots.keepLatest(key, VERIFICATION_SNAPSHOTS_KEPT);
  }
  return {
    eventsReplayed: info.eventsFolded,
    ...reportOf(state),
    throughPosition: info.position.toString(),
    fromPosition: '-1',
    eventsThisRun: info.eventsFolded,
  };
}

function reportOf(state: VerificationState): Pick<AuditReport, 'recorded' | 'missing' | 'telemetry' | 'ok'> {
  const computedIds = new Set(state.computed.map((d) => d.rollbackId));
  const recordedIds = new Set(state.recorded.map((d) => d.rollbackId));
  const recorded = state.recorded.map((d) => ({ ...d, reproduced: computedIds.has(d.rollbackId) }));
  const missing: MissingDecision[] = [];
  // Decisions meant for the same revision of the same stream are one episode retried at each new sample.
  const episodes = new Set<string>();
  for (const decision of state.computed) {
    const { rollbackId, service, rule, tippingEventId, tippingPosition } = decision;
    const episode = slot(decision.stream, decision.expectedRevision);
    if (recordedIds.has(rollbackId) || episodes.has(episode)) continue;
    episodes.add(episode);
    const next = state.recordedNext[slot(decision.stream, decision.expectedRevision + 1)] ?? null;
    const preempted = next !== null && next !== decision.firstEventId;
    if (!preempted) missing.push({ rollbackId, service, rule, tippingEventId, tippingPosition });
  }
  const telemetry = telemetryVerdicts(state.telemetry);
  const ok = missing.length === 0 && recorded.every((r) => r.reproduced) && telemetry.every((t) => t.reproduced);
  return { recorded, missing, telemetry, ok };
}

/**
 * Re-runs the policy over the history and compares: each recorded policy decision is reproduced or
 * not, and each decision the policy would have made is recorded, or was rightly dropped because the
 * service stream had moved on (another event took its place, as the live process manager's expected
 * revision would have seen), or is missing. Recorded stale-telemetry decisions are checked too.
 * With `resumeAfter` and a snapshot of the verification there, only the events after it are folded:
 * the snapshot holds everything the comparison keeps (earlier decisions, missing ones included), so
 * the report is the one a run from zero would give.
 */
export async function verifyDecisions(
  history: History,
  policy: RollbackPolicy,
  options: VerifyOptions = {},
): Promise<AuditReport> {
  const projection = rollbackDecisionsProjection(policy);
  const key = verificationSnapshots(policy);
  const { snapshots, resumeAfter } = options;
  // Read once: a snapshot is tens of megabytes to parse.
  const resumable =
    snapshots && resumeAfter !== undefined ? await snapshots.atOrBeforePosition(key, resumeAfter) : undefined;
  if (options.store && (options.threads ?? 1) > 1 && (await longFullRun(history, options, resumable)))
    return verifySplit(history, policy, key, options.store, options.threads!, snapshots);
  const { start, byCause, events } = await startingPoint(history, key, options, resumable);
  const state = start ? (start.state as VerificationState) : initialVerification(projection);
  expectDecisions(state.telemetry, byCause);
  const from = start ?? FROM_ZERO;
  const taker =
    options.snapshots &&
    new SnapshotTaker(options.snapshots, key, options.snapshotEvery ?? VERIFICATION_SNAPSHOT_EVERY, from);
  let through = from.position;
  let eventsThisRun = 0;
  for await (const event of events ?? history.readDecoded(from.position + 1n)) {
    foldEvent(state, projection, event, byCause);
    through = event.position;
    eventsThisRun += 1;
    await taker?.folded(event, () => state);
  }
  await taker?.finish(state);
  await options.snapshots?.keepLatest(key, VERIFICATION_SNAPSHOTS_KEPT);
  return {
    eventsReplayed: from.eventsFolded + eventsThisRun,
    ...reportOf(state),
    throughPosition: through.toString(),
    fromPosition: from.position.toString(),
    eventsThisRun,
  };
}
