import { describe, expect, it } from 'vitest';
import { initialRunState, isOver, next, outcomeOf, type DrillRunState, type PhaseResult } from './drill-run-state.js';

const done: PhaseResult = { type: 'done' };
const run = (results: readonly PhaseResult[]): DrillRunState[] => {
  const states = [initialRunState];
  for (const result of results) states.push(next(states.at(-1)!, result));
  return states;
};

describe('the drill run as a state machine', () => {
  it('goes through prepare, steady-state, faults and verify, then cleans up and finishes as judged', () => {
    const states = run([done, done, done, { type: 'judged', passed: true }, done]);
    expect(states.map((s) => ('phase' in s ? s.phase : s.kind))).toEqual([
      'prepare',
      'steady-state',
      'faults',
      'verify',
      'cleanup',
      'finished',
    ]);
    expect(outcomeOf(states.at(-1)!)).toBe('passed');
    expect(isOver(states.at(-1)!)).toBe(true);
  });

  it('finishes as failed when an expectation failed, still after cleaning up', () => {
    const states = run([done, done, done, { type: 'judged', passed: false }]);
    expect(states.at(-1)).toEqual({ kind: 'cleanup', outcome: 'failed' });
    expect(next(states.at(-1)!, done)).toEqual({ kind: 'finished', outcome: 'failed' });
  });

  it.each([0, 1, 2, 3])('an abort in phase %i goes to cleanup, then ends aborted with its reason', (phases) => {
    const states = run([
      ...Array<PhaseResult>(phases).fill(done),
      { type: 'aborted', reason: 'interrupted by SIGINT' },
    ]);
    expect(states.at(-1)).toEqual({ kind: 'cleanup', outcome: 'aborted', abortReason: 'interrupted by SIGINT' });
    expect(outcomeOf(states.at(-1)!)).toBe('aborted');
    expect(next(states.at(-1)!, done)).toEqual({ kind: 'aborted', abortReason: 'interrupted by SIGINT' });
  });

  it('ignores a second interruption during cleanup: cleanup runs to its end and the first reason stands', () => {
    const cleaning = run([done, { type: 'aborted', reason: 'interrupted by SIGINT' }]).at(-1)!;
    expect(next(cleaning, { type: 'aborted', reason: 'interrupted by SIGTERM' })).toEqual({
      kind: 'aborted',
      abortReason: 'interrupted by SIGINT',
    });
  });

  it('refuses results a state cannot take: verdicts before verify, anything after the end', () => {
    expect(() => next(initialRunState, { type: 'judged', passed: true })).toThrow(
      /UnexpectedPhaseResult: judged in prepare/,
    );
    expect(() => next(run([done, done, done]).at(-1)!, done)).toThrow(/done in verify/);
    expect(() => next({ kind: 'finished', outcome: 'passed' }, done)).toThrow(/done in finished/);
  });
});
