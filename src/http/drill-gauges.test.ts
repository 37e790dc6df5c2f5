import { describe, expect, it } from 'vitest';
import type { DrillHistoryState, DrillRun } from '../../projections/drill-history.js';
import { drillGauges } from './drill-gauges.js';

const run = (runId: string, drill: string, outcome: DrillRun['outcome'], finishedAt?: number): DrillRun => ({
  runId,
  drill,
  trigger: 'schedule',
  startedAt: 0,
  finishedAt,
  outcome,
  timeToDetectMs: 1_500,
  timeToRecoverMs: finishedAt,
  steps: [],
  faults: [],
  expectations: [],
});
const history = (...runs: DrillRun[]): DrillHistoryState => ({
  asOf: 0,
  runs: Object.fromEntries(runs.map((r) => [r.runId, r])),
});

describe('drill gauges', () => {
  it("show each drill's last run with a verdict: aborted and unfinished runs judged nothing", () => {
    const runs = history(
      run('a', 'dependency-down', 'passed', 10_000),
      run('b', 'dependency-down', 'failed', 20_000),
      run('c', 'dependency-down', 'aborted', 30_000),
      run('d', 'dependency-down', 'running'),
    );
    expect(drillGauges(runs, { asOf: 0, drills: {} })).toEqual([
      { drill: 'dependency-down', lastRunAt: 20, lastRunPassed: false, mttdSeconds: 1.5, mttrSeconds: 20 },
    ]);
  });

  it('show when a drill that never ran is due, and nothing else for it', () => {
    const schedules = { asOf: 0, drills: { 'high-error-rate': { cron: '0 3 1 * *', since: '2026-11-24T10:00:00Z' } } };
    expect(drillGauges(history(), schedules)).toEqual([
      { drill: 'high-error-rate', nextDueAt: Date.parse('2026-12-01T03:00:00Z') / 1000 },
    ]);
  });
});
