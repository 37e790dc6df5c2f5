import { POLICY_ACTOR } from '../policy/rollback-process-manager.js';
import type { RollbackDecisionsState } from '../policy/rollback-decisions.js';
import type { TypedRecordedEvent } from '../events/catalogue.js';
import type { Projection } from '../runtime/projection.js';
import {
  applyTelemetryCheck,
  initialTelemetryCheck,
  type DecisionsByCause,
  type TelemetryCheckState,
} from './verify-telemetry-decisions.js';

/** A recorded policy decision, before the comparison says whether it was reproduced. */
export interface RecordedDecision {
  readonly rollbackId: string;
  readonly service: string;
  readonly rule: string;
  readonly position: string;
}

/** A decision the policy makes when the history is replayed, reduced to what the comparison needs. */
export interface ComputedDecision {
  readonly rollbackId: string;
  readonly service: string;
  readonly rule: string;
  readonly stream: string;
  readonly expectedRevision: number;
  /** Id of the first event the decision appends; null if it appends none. */
  readonly firstEventId: string | null;
  readonly tippingEventId: string;
  readonly tippingPosition: string;
}

/** Everything the verification keeps between two events: plain JSON, so that it can be snapshotted. */
export interface VerificationState {
  readonly fold: RollbackDecisionsState;
  readonly computed: ComputedDecision[];
  readonly recorded: RecordedDecision[];
  /** For each computed decision, the id of the event its stream recorded next (the decision, or what preempted it). */
  readonly recordedNext: Record<string, string | null>;
  readonly telemetry: TelemetryCheckState;
}

export const initialVerification = (projection: Projection<RollbackDecisionsState>): VerificationState => ({
  fold: projection.initialState,
  computed: [],
  recorded: [],
  recordedNext: {},
  telemetry: initialTelemetryCheck(),
});

export const slot = (stream: string, revision: bigint | number) => `${stream}@${revision}`;

const everyService = () => true;

/**
 * Folds one event into the verification. `owns` (a split run's share of the services) keeps the
 * decisions computed and recorded for its services only; `byCause` must hold only theirs too.
 */
export function foldEvent(
  state: VerificationState,
  projection: Projection<RollbackDecisionsState>,
  event: TypedRecordedEvent,
  byCause: DecisionsByCause,
  owns: (service: string) => boolean = everyService,
): void {
  const here = slot(event.stream, event.revision);
  if (Object.hasOwn(state.recordedNext, here) && state.recordedNext[here] === null) state.recordedNext[here] = event.id;
  projection.apply(state.fold, event);
  for (const decision of state.fold.decisions) {
    if (!owns(decision.decided.data.service)) continue;
    state.computed.push({
      rollbackId: decision.decided.data.rollbackId,
      service: decision.decided.data.service,
      rule: decision.decided.data.rule,
      stream: decision.stream,
      expectedRevision: decision.expectedRevision,
      firstEventId: decision.eventIds[0] ?? null,
      tippingEventId: decision.tippingEventId,
      tippingPosition: decision.tippingPosition,
    });
    const next = slot(decision.stream, decision.expectedRevision + 1);
    if (!Object.hasOwn(state.recordedNext, next)) state.recordedNext[next] = null;
  }
  if (event.type === 'RollbackDecided' && event.metadata.actor === POLICY_ACTOR && owns(event.data.service))
    state.recorded.push({
      rollbackId: event.data.rollbackId,
      service: event.data.service,
      rule: event.data.rule,
      position: event.position.toString(),
    });
  applyTelemetryCheck(state.telemetry, event, byCause);
}
