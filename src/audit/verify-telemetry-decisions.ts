import { isDeepStrictEqual } from 'node:util';
import { telemetryFreshnessProjection, type TelemetryFreshnessState } from '../../projections/telemetry-freshness.js';
import type { TypedRecordedEvent } from '../events/catalogue.js';
import { judgeTelemetry } from '../policy/telemetry-staleness.js';
import { TELEMETRY_ACTOR, telemetryDecisionId } from '../policy/telemetry-watcher.js';
import type { History } from './history.js';

export interface TelemetryVerdict {
  readonly eventId: string;
  readonly type: 'TelemetryStale' | 'TelemetryResumed';
  readonly service: string;
  readonly position: string;
  /** The watcher, replayed up to the event that caused it, decides exactly this event at this stream revision. */
  readonly reproduced: boolean;
}

const DECISION_TYPES = ['TelemetryStale', 'TelemetryResumed'] as const;
type Recorded = Extract<TypedRecordedEvent, { type: (typeof DECISION_TYPES)[number] }>;
const isRecordedDecision = (event: TypedRecordedEvent): event is Recorded =>
  (event.type === 'TelemetryStale' || event.type === 'TelemetryResumed') && event.metadata.actor === TELEMETRY_ACTOR;

/** Recorded stale or resumed telemetry decisions, by the id of the event that caused each. */
export type DecisionsByCause = ReadonlyMap<string, readonly Recorded[]>;

/** The recorded telemetry decisions among `events` (the history, or the part of it a run folds), by cause. */
export async function telemetryDecisionsByCause(
  events: AsyncIterable<TypedRecordedEvent> | Iterable<TypedRecordedEvent>,
): Promise<DecisionsByCause> {
  const byCause = new Map<string, Recorded[]>();
  for await (const event of events)
    if (isRecordedDecision(event) && event.metadata.causationId)
      byCause.set(event.metadata.causationId, [...(byCause.get(event.metadata.causationId) ?? []), event]);
  return byCause;
}

/**
 * The recorded telemetry decisions from `fromPosition` on, by cause: a pass over the whole history,
 * read by type where the history can (rare events, picked by SQLite from a million in a third of a second).
 */
export const telemetryDecisionsIn = (history: History, fromPosition: bigint): Promise<DecisionsByCause> =>
  telemetryDecisionsByCause(history.readTypes(fromPosition, DECISION_TYPES));

/** The telemetry check as a fold of the history, plain JSON so that it can be snapshotted. */
export interface TelemetryCheckState {
  readonly freshness: TelemetryFreshnessState;
  readonly staleAfter: Record<string, number>;
  /** Every recorded decision known to the fold, by event id: reproduced once its cause was folded and agreed. */
  readonly verdicts: Record<string, TelemetryVerdict>;
}

export const initialTelemetryCheck = (): TelemetryCheckState => ({
  freshness: telemetryFreshnessProjection.initialState,
  staleAfter: {},
  verdicts: {},
});

/** Makes the decisions known (not reproduced until their cause is folded); those known already keep their verdict. */
export function expectDecisions(state: TelemetryCheckState, byCause: DecisionsByCause): void {
  for (const decision of [...byCause.values()].flat())
    state.verdicts[decision.id] ??= {
      eventId: decision.id,
      type: decision.type,
      service: decision.data.service,
      position: decision.position.toString(),
      reproduced: false,
    };
}

/**
 * Folds one event into the telemetry freshness read model and checks each recorded stale or resumed
 * telemetry it caused against it. Which services were watched is the fleet file's, not the history's:
 * a decision is judged with its own service watched (or, for a resumption, no longer watched) and the
 * `staleAfterSeconds` it or its staleness records; decisions never recorded are not looked for.
 */
export function applyTelemetryCheck(
  state: TelemetryCheckState,
  event: TypedRecordedEvent,
  byCause: DecisionsByCause,
): void {
  telemetryFreshnessProjection.apply(state.freshness, event);
  if (event.type === 'TelemetryStale') state.staleAfter[event.data.service] = event.data.staleAfterSeconds;
  for (const decision of byCause.get(event.id) ?? []) {
    const { service } = decision.data;
    const staleAfterSeconds =
      decision.type === 'TelemetryStale' ? decision.data.staleAfterSeconds : (state.staleAfter[service] ?? 0);
    const judged = [[service], []].flatMap((watched) =>
      judgeTelemetry(state.freshness, { services: watched, staleAfterSeconds }, [service]),
    );
    const same = judged.some(
      (d) =>
        telemetryDecisionId(d, event.id) === decision.id &&
        d.expectedRevision === Number(decision.revision) - 1 &&
        isDeepStrictEqual(d.event, { type: decision.type, data: decision.data }),
    );
    const verdict = state.verdicts[decision.id];
    if (same && verdict) state.verdicts[decision.id] = { ...verdict, reproduced: true };
  }
}

/** Each recorded decision known to the fold, in position order. */
export const telemetryVerdicts = (state: TelemetryCheckState): TelemetryVerdict[] =>
  Object.values(state.verdicts).sort((a, b) => (BigInt(a.position) < BigInt(b.position) ? -1 : 1));
