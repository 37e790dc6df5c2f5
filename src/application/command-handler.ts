import { WrongExpectedRevision } from '../event-store/errors.js';
import type { AppendResult, EventStore, ExpectedRevision } from '../event-store/event-store.js';
import { decodeStored, encodeEvent, type DomainEvent } from '../events/catalogue.js';
import type { Decider } from '../domain/decider.js';

export interface CommandContext {
  readonly actor: string;
  /** When the command was issued: read from the clock by the caller, never inside the domain. */
  readonly now: Date;
  readonly correlationId?: string;
  readonly causationId?: string | null;
  /** Deterministic ids make a repeated command idempotent in the store (e.g. a policy decision). */
  readonly eventIds?: readonly string[];
}

export interface CommandOutcome<State> {
  readonly events: readonly DomainEvent[];
  readonly state: State;
  /** The append's result; absent when the decider decided nothing. */
  readonly appended?: AppendResult;
}

/** Folds a stream into the decider's state and returns the expected revision it observed. */
export async function loadStream<State>(
  store: EventStore,
  stream: string,
  decider: Pick<Decider<unknown, State>, 'evolve' | 'initialState'>,
): Promise<{ state: State; revision: ExpectedRevision }> {
  let state = decider.initialState;
  let revision: ExpectedRevision = 'no_stream';
  for await (const recorded of store.readStream(stream)) {
    state = decider.evolve(state, decodeStored(recorded));
    revision = recorded.revision;
  }
  return { state, revision };
}

/**
 * Load, decide, append with the revision that was read. When someone else appended first the
 * command is decided again on the new state (it may now be refused), up to `attempts` times.
 */
export async function handleCommand<Command, State>(
  store: EventStore,
  stream: string,
  decider: Decider<Command, State>,
  command: Command,
  context: CommandContext,
  attempts = 5,
): Promise<CommandOutcome<State>> {
  return handleCommands(store, stream, decider, () => [command], context, attempts);
}

/**
 * Like `handleCommand` for commands that go together (chosen from the state read): each is decided
 * on the state the previous ones' events lead to, and all their events are appended at once, or none.
 */
export async function handleCommands<Command, State>(
  store: EventStore,
  stream: string,
  decider: Decider<Command, State>,
  commandsFor: (state: State) => readonly Command[],
  context: CommandContext,
  attempts = 5,
): Promise<CommandOutcome<State>> {
  for (let attempt = 1; ; attempt += 1) {
    const { state, revision } = await loadStream(store, stream, decider);
    const events: DomainEvent[] = [];
    let next = state;
    for (const command of commandsFor(state)) {
      const decided = decider.decide(next, command);
      events.push(...decided);
      next = decided.reduce(decider.evolve, next);
    }
    if (events.length === 0) return { events, state };
    const encoded = events.map((event, index) =>
      encodeEvent(event, {
        actor: context.actor,
        occurredAt: context.now,
        ...(context.eventIds?.[index] && { id: context.eventIds[index] }),
        ...(context.correlationId && { correlationId: context.correlationId }),
        ...(context.causationId !== undefined && { causationId: context.causationId }),
      }),
    );
    try {
      const appended = await store.append(stream, encoded, revision);
      return { events, state: next, appended };
    } catch (error) {
      if (!(error instanceof WrongExpectedRevision) || attempt >= attempts) throw error;
    }
  }
}
