import { expect } from 'vitest';
import type { DomainEvent } from '../events/catalogue.js';
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
