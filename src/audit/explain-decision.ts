import type { EventStore, RecordedEvent } from '../event-store/event-store.js';
import { decodeEvent, type TypedRecordedEvent } from '../events/catalogue.js';
import { decodedHistory } from './history.js';

export class DecisionNotFound extends Error {
  readonly code = 'DECISION_NOT_FOUND';
  constructor(readonly id: string) {
    super(`DecisionNotFound: no RollbackDecided event has id or rollback id "${id}"; list decisions with \`failsafe audit verify\``);
    this.name = 'DecisionNotFound';
  }
}

export type DecidedEvent = Extract<TypedRecordedEvent, { type: 'RollbackDecided' }>;

export interface Explanation {
  readonly decision: DecidedEvent;
  /** The events the rule read (samples, migration progress), as recorded; ids no longer stored are listed apart. */
  readonly evidence: readonly TypedRecordedEvent[];
  readonly missingEvidence: readonly string[];
  /** From the decision back along `causationId` to the event that started the chain. */
  readonly causation: readonly TypedRecordedEvent[];
  /** Everything recorded about this rollback afterwards: approval, start, completion, verification. */
  readonly lifecycle: readonly TypedRecordedEvent[];
}

const read = async (store: EventStore, id: string): Promise<TypedRecordedEvent | undefined> => {
  const recorded: RecordedEvent | undefined = await store.readEvent(id);
  return recorded && decodeEvent(recorded);
};

/** Why a rollback was decided: its rule and figures, the evidence, and the chain of causes. */
export async function explainDecision(store: EventStore, id: string): Promise<Explanation> {
  let decision: DecidedEvent | undefined;
  const direct = await read(store, id);
  if (direct?.type === 'RollbackDecided') decision = direct;
  for await (const event of decision ? [] : decodedHistory(store)) {
    if (event.type === 'RollbackDecided' && event.data.rollbackId === id) {
      decision = event;
      break;
    }
  }
  if (!decision) throw new DecisionNotFound(id);

  const evidence: TypedRecordedEvent[] = [];
  const missingEvidence: string[] = [];
  for (const evidenceId of decision.data.evidenceEventIds) {
    const event = await read(store, evidenceId);
    if (event) evidence.push(event);
    else missingEvidence.push(evidenceId);
  }
  const causation: TypedRecordedEvent[] = [];
  for (let cause = decision.metadata.causationId; cause && causation.length < 100; ) {
    const event = await read(store, cause);
    if (!event) break;
    causation.push(event);
    cause = event.metadata.causationId;
  }
  const lifecycle: TypedRecordedEvent[] = [];
  for await (const recorded of store.readStream(decision.stream, { fromRevision: decision.revision + 1n })) {
    const event = decodeEvent(recorded);
    if ((event.data as { rollbackId?: string }).rollbackId === decision.data.rollbackId) lifecycle.push(event);
  }
  return { decision, evidence, missingEvidence, causation, lifecycle };
}
