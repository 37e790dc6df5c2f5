import type { RecordedEvent } from '../event-store/event-store.js';
import { decodeEvent, type TypedRecordedEvent } from '../events/catalogue.js';
import type { History } from './history.js';

export class DecisionNotFound extends Error {
  readonly code = 'DECISION_NOT_FOUND';
  constructor(readonly id: string) {
    super(
      `DecisionNotFound: no RollbackDecided event has id or rollback id "${id}"; ` +
        'list decisions with `failsafe audit verify`',
    );
    this.name = 'DecisionNotFound';
  }
}

export type DecidedEvent = Extract<TypedRecordedEvent, { type: 'RollbackDecided' }>;

export interface Explanation {
  readonly decision: DecidedEvent;
  /** The events the rule read (samples, migration progress), live or archived; ids found nowhere are listed apart. */
  readonly evidence: readonly TypedRecordedEvent[];
  readonly missingEvidence: readonly string[];
  /** From the decision back along `causationId` to the event that started the chain. */
  readonly causation: readonly TypedRecordedEvent[];
  /** Everything recorded about this rollback afterwards: approval, start, completion, verification. */
  readonly lifecycle: readonly TypedRecordedEvent[];
}

const read = async (history: History, id: string, known: ReadonlyMap<string, RecordedEvent> = new Map()) => {
  const recorded = known.get(id) ?? (await history.readEvents([id])).get(id);
  return recorded && decodeEvent(recorded);
};

/** Why a rollback was decided: its rule and figures, the evidence, and the chain of causes. */
export async function explainDecision(history: History, id: string): Promise<Explanation> {
  let decision: DecidedEvent | undefined;
  const direct = await read(history, id);
  if (direct?.type === 'RollbackDecided') decision = direct;
  for await (const event of decision ? [] : history.readDecoded()) {
    if (event.type === 'RollbackDecided' && event.data.rollbackId === id) {
      decision = event;
      break;
    }
  }
  if (!decision) throw new DecisionNotFound(id);

  const evidence: TypedRecordedEvent[] = [];
  const missingEvidence: string[] = [];
  const found = await history.readEvents(decision.data.evidenceEventIds);
  for (const evidenceId of decision.data.evidenceEventIds) {
    const event = found.get(evidenceId);
    if (event) evidence.push(decodeEvent(event));
    else missingEvidence.push(evidenceId);
  }
  const causation: TypedRecordedEvent[] = [];
  for (let cause = decision.metadata.causationId; cause && causation.length < 100; ) {
    const event = await read(history, cause, found);
    if (!event) break;
    causation.push(event);
    cause = event.metadata.causationId;
  }
  const lifecycle: TypedRecordedEvent[] = [];
  for await (const event of history.readDecoded(decision.position + 1n)) {
    const about = (event.data as { rollbackId?: string }).rollbackId === decision.data.rollbackId;
    if (event.stream === decision.stream && about) lifecycle.push(event);
  }
  return { decision, evidence, missingEvidence, causation, lifecycle };
}
