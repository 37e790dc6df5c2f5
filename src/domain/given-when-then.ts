import { expect } from 'vitest';
import type { DomainEvent, TypedRecordedEvent } from '../events/catalogue.js';
import { foldProjection, type Projection } from '../runtime/projection.js';
import { foldEvents, InvariantViolated, type Decider } from './decider.js';

/** Test helper for deciders: given past events, when a command, then these events (or this violation). */
export function given<Command, State>(decider: Decider<Command, State>, ...history: DomainEvent[]) {
  const state = foldEvents(decider, history);
  return {
    when(command: Command) {
      const decide = () => decider.decide(state, command);
      return {
        then(...expected: DomainEvent[]): void {
          expect(decide()).toEqual(expected);
        },
        thenViolates(invariant: string, why?: RegExp): void {
          let error: unknown;
          try {
            decide();
          } catch (caught) {
            error = caught;
          }
          expect(error, 'expected the command to be refused').toBeInstanceOf(InvariantViolated);
          expect((error as InvariantViolated).invariant).toBe(invariant);
          if (why) expect((error as Error).message).toMatch(why);
        },
      };
    },
  };
}

/**
 * Test helper for a process manager's fold: given recorded events, when more arrive, then what it
 * decided after each of them, in order (`decisionsOf` reads them from the state).
 */
export function givenHistory<State>(projection: Projection<State>, ...history: TypedRecordedEvent[]) {
  let state = foldProjection(projection, history);
  return {
    when(...events: TypedRecordedEvent[]) {
      return {
        then<Decision>(decisionsOf: (state: State) => readonly Decision[], expected: readonly Decision[]): void {
          const decided: Decision[] = [];
          for (const event of events) {
            state = projection.apply(state, event);
            decided.push(...decisionsOf(state));
          }
          expect(decided).toEqual(expected);
        },
      };
    },
  };
}
