import type { TypedRecordedEvent } from '../events/catalogue.js';
import type { Expectation } from './drill-file.js';
import type { Observations, TimelineEntry } from './scorecard.js';
import { migrationStream, serviceStream, telemetryStream } from '../domain/streams.js';

/** What the drill has seen Failsafe do, folded from the recorded events (milliseconds since the epoch). */
export interface DrillSeen
  extends Pick<Observations, 'decided' | 'rollbackStarted' | 'completed' | 'migrationReverted' | 'incident'> {
  /** The first fault's injection (0 before the faults phase): the origin of "within". */
  readonly faultAt: number;
  readonly disabledTools: readonly { readonly tool: string; readonly at: number }[];
  /** The rollback to another release, once one started: its completion is the recovery. */
  readonly releaseRollback?: string | undefined;
  /** Rollbacks the policy decided once the faults began: the drill's own, resolved at cleanup. */
  readonly ownDecisions: readonly string[];
}

/** What the drill watches: its target's stream, its telemetry's (stale or not) and its own migration's. */
export interface WatchScope {
  readonly service: string;
  readonly migrationId: string;
}

/** What an event is worth telling: a timeline entry, a progress line, a manual rollback to approve. */
export interface Noticed {
  readonly timeline?: TimelineEntry;
  readonly line?: string;
  /** A manual rollback decided: the runner's approver (if any) approves it. */
  readonly manual?: string;
}

/** Whether an event's stream is one the drill watches (the others are not even decoded). */
export const isWatched = (stream: string, scope: WatchScope): boolean =>
  stream === serviceStream(scope.service) ||
  stream === migrationStream(scope.migrationId) ||
  stream === telemetryStream(scope.service);

export const nothingSeen: DrillSeen = { faultAt: 0, disabledTools: [], ownDecisions: [] };

type Seen = { readonly seen: DrillSeen; readonly noticed?: Noticed };

function rollbackEvent(seen: DrillSeen, event: TypedRecordedEvent, at: number): Seen {
  if (event.type === 'RollbackDecided') {
    const { rollbackId, mode, rule, threshold } = event.data;
    // Three significant figures: an error rate reads 0.231, not 0.23076923076923078.
    const observed = Number(event.data.observed.toPrecision(3));
    const own = seen.faultAt > 0 && at >= seen.faultAt ? [...seen.ownDecisions, rollbackId] : seen.ownDecisions;
    if (seen.decided) return { seen: { ...seen, ownDecisions: own } };
    return {
      seen: { ...seen, ownDecisions: own, decided: { at, mode, rule } },
      noticed: {
        timeline: { at, kind: 'decision', label: `${mode} decided by ${rule} (observed ${observed})` },
        line: `Failsafe decided: ${mode} rollback, rule ${rule}, observed ${observed} (threshold ${threshold})`,
        ...(mode === 'manual' && { manual: rollbackId }),
      },
    };
  }
  // A rollback to another release (disabling a tool restarts the same release: not one).
  if (event.type === 'RollbackStarted' && seen.rollbackStarted === undefined) {
    const { fromRelease, toRelease, rollbackId } = event.data;
    if (fromRelease === toRelease) return { seen };
    return {
      seen: { ...seen, rollbackStarted: at, releaseRollback: rollbackId },
      noticed: { line: `rollback started: ${fromRelease} → ${toRelease}` },
    };
  }
  if (
    event.type === 'RollbackCompleted' &&
    seen.completed === undefined &&
    event.data.rollbackId === seen.releaseRollback
  ) {
    const { release } = event.data;
    return {
      seen: { ...seen, completed: at },
      noticed: {
        timeline: { at, kind: 'recovery', label: `rollback completed: ${release} serves` },
        line: `rollback completed: ${release} serves again`,
      },
    };
  }
  return { seen };
}

/** Stale telemetry raised once the faults began (an incident, no rollback), and its end. */
function telemetryEvent(seen: DrillSeen, event: TypedRecordedEvent, at: number): Seen {
  if (event.type === 'TelemetryStale' && seen.incident === undefined && seen.faultAt > 0 && at >= seen.faultAt) {
    const quiet = `no sample for ${event.data.staleAfterSeconds} s`;
    return {
      seen: { ...seen, incident: { at, rule: 'telemetry_stale' } },
      noticed: {
        timeline: { at, kind: 'decision', label: `incident opened: telemetry_stale (${quiet})` },
        line: `Failsafe raised an incident: telemetry of ${event.data.service} is stale (${quiet})`,
      },
    };
  }
  if (event.type === 'TelemetryResumed' && seen.incident && seen.incident.resolvedAt === undefined)
    return {
      seen: { ...seen, incident: { ...seen.incident, resolvedAt: at } },
      noticed: {
        timeline: { at, kind: 'recovery', label: 'incident resolved: telemetry resumed' },
        line: `incident resolved: samples of ${event.data.service} arrive again`,
      },
    };
  return { seen };
}

/** One recorded event folded into what the drill has seen. Pure. */
export function observe(seen: DrillSeen, event: TypedRecordedEvent, scope: WatchScope): Seen {
  const at = event.recordedAt.getTime();
  if (event.stream === migrationStream(scope.migrationId)) {
    if (event.type !== 'MigrationReverted' || seen.migrationReverted !== undefined) return { seen };
    const { migrationId, fromStage, toStage } = event.data;
    if (migrationId !== scope.migrationId) return { seen };
    return {
      seen: { ...seen, migrationReverted: at },
      noticed: {
        timeline: { at, kind: 'recovery', label: `migration reverted to ${toStage}` },
        line: `migration ${migrationId} reverted: ${fromStage} → ${toStage}`,
      },
    };
  }
  if (event.stream === telemetryStream(scope.service)) return telemetryEvent(seen, event, at);
  if (event.stream !== serviceStream(scope.service)) return { seen };
  if (event.type === 'FeatureDisabled' && event.data.scope === 'tool' && event.data.target) {
    const tool = event.data.target;
    return {
      seen: { ...seen, disabledTools: [...seen.disabledTools, { tool, at }] },
      noticed: { timeline: { at, kind: 'recovery', label: `tool ${tool} disabled` }, line: `tool ${tool} disabled` },
    };
  }
  return rollbackEvent(seen, event, at);
}

const waitOf = (e: Expectation) => ('within' in e ? e.within : 'during' in e ? e.during : 0);

/** Whether the drill has seen everything its expectations wait for: the faults phase may end early. */
export const settled = (expectations: readonly Expectation[], seen: DrillSeen): boolean =>
  expectations.every((e) => {
    if (e.expect === 'rollback_decided') return seen.decided !== undefined;
    if (e.expect === 'rollback_completed') return seen.completed !== undefined;
    if (e.expect === 'tool_disabled') return seen.disabledTools.some((d) => d.tool === e.tool);
    if (e.expect === 'migration_reverted') return seen.migrationReverted !== undefined;
    if (e.expect === 'incident_opened') return seen.incident !== undefined;
    if (e.expect === 'incident_resolved') return seen.incident?.resolvedAt !== undefined;
    return !('within' in e) && !('during' in e);
  });

/** How long after the first fault the drill watches at most: its longest wait, or its last scheduled fault change. */
export const watchFor = (expectations: readonly Expectation[], scheduled: readonly number[]): number =>
  Math.max(...expectations.map(waitOf), ...scheduled);
