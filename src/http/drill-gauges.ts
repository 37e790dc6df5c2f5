import type { DrillHistoryState, DrillRun } from '../../projections/drill-history.js';
import { type DrillSchedulesState, nextDrillDue } from '../../projections/drill-schedules.js';

/** One drill's `failsafe_drill_*` values, in seconds; a value is absent when the history has none. */
export interface DrillGauges {
  readonly drill: string;
  readonly lastRunAt?: number;
  readonly lastRunPassed?: boolean;
  readonly mttdSeconds?: number;
  readonly mttrSeconds?: number;
  readonly nextDueAt?: number;
}

/** A drill's last run with a verdict: an aborted run (its Failsafe died, say) judged nothing. */
function lastVerdicts(history: DrillHistoryState): Map<string, DrillRun> {
  const last = new Map<string, DrillRun>();
  for (const run of Object.values(history.runs)) {
    if ((run.outcome !== 'passed' && run.outcome !== 'failed') || run.finishedAt === undefined) continue;
    const before = last.get(run.drill);
    if (!before || run.finishedAt >= (before.finishedAt ?? 0)) last.set(run.drill, run);
  }
  return last;
}

/** The drill gauges, from the drill history and schedules read models: the same after any restart. */
export function drillGauges(history: DrillHistoryState, schedules: DrillSchedulesState): DrillGauges[] {
  const last = lastVerdicts(history);
  const drills = [...new Set([...last.keys(), ...Object.keys(schedules.drills)])].sort();
  return drills.map((drill) => {
    const run = last.get(drill);
    const schedule = schedules.drills[drill];
    const due = schedule && nextDrillDue(schedule);
    const mttd = run?.timeToDetectMs;
    const mttr = run?.timeToRecoverMs;
    return {
      drill,
      ...(run && { lastRunAt: (run.finishedAt ?? 0) / 1000, lastRunPassed: run.outcome === 'passed' }),
      ...(mttd !== undefined && { mttdSeconds: mttd / 1000 }),
      ...(mttr !== undefined && { mttrSeconds: mttr / 1000 }),
      ...(due !== undefined && { nextDueAt: due / 1000 }),
    };
  });
}
