/**
 * A drill run as a state machine. Each phase is recorded as DrillStepRecorded; this file says
 * which phase follows which, and nothing else: the runner's loop performs a phase, turns what
 * happened into a PhaseResult and asks `next` where to go. Pure.
 *
 *   prepare → steady-state → faults → verify ─(judged)→ cleanup → finished
 *      └──────────┴────────────┴────────┴──(aborted)──→ cleanup → aborted
 */
export type RunningPhase = 'prepare' | 'steady-state' | 'faults' | 'verify';

export type DrillRunState =
  | { readonly kind: 'running'; readonly phase: RunningPhase }
  /** Always reached, whatever happened before: faults removed, the target restored. */
  | { readonly kind: 'cleanup'; readonly outcome: 'passed' | 'failed' }
  | { readonly kind: 'cleanup'; readonly outcome: 'aborted'; readonly abortReason: string }
  | { readonly kind: 'finished'; readonly outcome: 'passed' | 'failed' }
  | { readonly kind: 'aborted'; readonly abortReason: string };

export type PhaseResult =
  /** The phase did its work: on to the next one. */
  | { readonly type: 'done' }
  /** Verify judged the expectations. */
  | { readonly type: 'judged'; readonly passed: boolean }
  /** Interrupted (a signal, the drill's timeout) or unable to go on (the steady state does not hold...). */
  | { readonly type: 'aborted'; readonly reason: string };

export const initialRunState: DrillRunState = { kind: 'running', phase: 'prepare' };

const FOLLOWING: Record<Exclude<RunningPhase, 'verify'>, RunningPhase> = {
  prepare: 'steady-state',
  'steady-state': 'faults',
  faults: 'verify',
};

/** A result a state cannot take: a bug in the runner, never a drill's failure. */
export class UnexpectedPhaseResult extends Error {
  readonly code = 'UNEXPECTED_PHASE_RESULT';
  constructor(state: DrillRunState, result: PhaseResult) {
    super(`UnexpectedPhaseResult: ${result.type} in ${'phase' in state ? state.phase : state.kind}; report this bug`);
    this.name = 'UnexpectedPhaseResult';
  }
}

export function next(state: DrillRunState, result: PhaseResult): DrillRunState {
  switch (state.kind) {
    case 'running':
      if (result.type === 'aborted') return { kind: 'cleanup', outcome: 'aborted', abortReason: result.reason };
      if (result.type === 'judged' && state.phase === 'verify')
        return { kind: 'cleanup', outcome: result.passed ? 'passed' : 'failed' };
      if (result.type === 'done' && state.phase !== 'verify') return { kind: 'running', phase: FOLLOWING[state.phase] };
      throw new UnexpectedPhaseResult(state, result);
    case 'cleanup':
      // Cleanup runs to its end even when interrupted again: what it found is recorded as its step.
      if (result.type === 'judged') throw new UnexpectedPhaseResult(state, result);
      return state.outcome === 'aborted'
        ? { kind: 'aborted', abortReason: state.abortReason }
        : { kind: 'finished', outcome: state.outcome };
    default:
      throw new UnexpectedPhaseResult(state, result);
  }
}

export const isOver = (state: DrillRunState): boolean => state.kind === 'finished' || state.kind === 'aborted';

/** The outcome a state stands for, as scorecards and DrillFinished say it. */
export const outcomeOf = (state: DrillRunState): 'passed' | 'failed' | 'aborted' =>
  state.kind === 'running' || state.kind === 'aborted' ? 'aborted' : state.outcome;
