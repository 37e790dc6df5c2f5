import type { DomainEvent } from '../events/catalogue.js';

/**
 * A pure decision maker for one stream: `decide` turns a command into events (or throws
 * `InvariantViolated`), `evolve` folds events into state. No I/O, no clock: time arrives in commands.
 */
export interface Decider<Command, State> {
  readonly initialState: State;
  evolve(state: State, event: DomainEvent): State;
  decide(state: State, command: Command): DomainEvent[];
}

/** A command that would break a rule of the domain; nothing is written. */
export class InvariantViolated extends Error {
  readonly code = 'INVARIANT_VIOLATED';
  constructor(
    /** Stable name of the rule, e.g. `deployment-blocked-by-rollback`. */
    readonly invariant: string,
    why: string,
  ) {
    super(`InvariantViolated (${invariant}): ${why}`);
    this.name = 'InvariantViolated';
  }
}

export const foldEvents = <State>(
  decider: Pick<Decider<unknown, State>, 'evolve' | 'initialState'>,
  events: Iterable<DomainEvent>,
): State => {
  let state = decider.initialState;
  for (const event of events) state = decider.evolve(state, event);
  return state;
};
