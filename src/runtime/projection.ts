import type { TypedRecordedEvent } from '../events/catalogue.js';

/**
 * A read model: a deterministic fold of events into state, with no I/O and no clock. The state
 * must be plain JSON (no Map, no bigint, no Date) so that a checkpoint can store it and a rebuild
 * can be compared with it. For speed over millions of events `apply` may update the state it is
 * given in place and return it: whoever folds owns the state and never keeps an older one.
 */
export interface Projection<State> {
  readonly name: string;
  /** Bump when `apply` changes meaning: checkpoints of another version are discarded and rebuilt. */
  readonly version: number;
  readonly initialState: State;
  apply(state: State, event: TypedRecordedEvent): State;
}

export const foldProjection = <State>(projection: Projection<State>, events: Iterable<TypedRecordedEvent>): State => {
  let state = projection.initialState;
  for (const event of events) state = projection.apply(state, event);
  return state;
};
