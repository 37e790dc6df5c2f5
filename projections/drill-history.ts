import type { Projection } from '../src/runtime/projection.js';
import { advance, eventTime } from './event-time.js';

export interface DrillRun {
  readonly runId: string;
  readonly drill: string;
  trigger: 'schedule' | 'manual';
  /** When it was asked for through the API, if it was. */
  requestedBy?: string | undefined;
  startedAt: number;
  finishedAt?: number | undefined;
  outcome: 'requested' | 'running' | 'passed' | 'failed' | 'aborted';
  timeToDetectMs?: number | undefined;
  timeToRecoverMs?: number | undefined;
  readonly steps: { step: string; status: string; at: number }[];
  readonly faults: { name: string; injectedAt: number; healedAt?: number | undefined }[];
  readonly expectations: { expectation: string; passed: boolean; detail: string }[];
}

export interface DrillHistoryState {
  asOf: number;
  readonly runs: Record<string, DrillRun>;
}

/** Every drill run with its steps, faults, expectations and outcome: the source of scorecards and trends. */
export const drillHistoryProjection: Projection<DrillHistoryState> = {
  name: 'drill-history',
  version: 2,
  get initialState(): DrillHistoryState {
    return { asOf: 0, runs: {} };
  },
  apply(state, event) {
    state.asOf = advance(state.asOf, event);
    const at = eventTime(event);
    if (event.type === 'DrillRequested') {
      const { runId, drill, requestedBy } = event.data;
      state.runs[runId] = {
        runId,
        drill,
        trigger: 'manual',
        requestedBy,
        startedAt: at,
        outcome: 'requested',
        steps: [],
        faults: [],
        expectations: [],
      };
      return state;
    }
    if (event.type === 'DrillStarted') {
      const { runId, drill, trigger } = event.data;
      const requested = state.runs[runId];
      if (requested?.outcome === 'requested') Object.assign(requested, { trigger, startedAt: at, outcome: 'running' });
      else
        state.runs[runId] = {
          runId,
          drill,
          trigger,
          startedAt: at,
          outcome: 'running',
          steps: [],
          faults: [],
          expectations: [],
        };
      return state;
    }
    if (!event.type.startsWith('Drill')) return state;
    const run = state.runs[(event.data as { runId: string }).runId];
    if (!run) return state;
    switch (event.type) {
      case 'DrillStepRecorded':
        run.steps.push({ step: event.data.step, status: event.data.status, at });
        break;
      case 'DrillFaultInjected':
        run.faults.push({ name: event.data.fault.name, injectedAt: at });
        break;
      case 'DrillFaultHealed': {
        const fault = run.faults.find((f) => f.name === event.data.name && f.healedAt === undefined);
        if (fault) fault.healedAt = at;
        break;
      }
      case 'DrillExpectationEvaluated':
        run.expectations.push({
          expectation: event.data.expectation,
          passed: event.data.passed,
          detail: event.data.detail,
        });
        break;
      case 'DrillFinished':
        Object.assign(run, {
          finishedAt: at,
          outcome: event.data.outcome,
          timeToDetectMs: event.data.timeToDetectMs,
          timeToRecoverMs: event.data.timeToRecoverMs,
        });
        break;
      default:
        break;
    }
    return state;
  },
};
