import { isDeepStrictEqual } from 'node:util';
import { telemetryFreshnessProjection } from '../../projections/telemetry-freshness.js';
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

type Recorded = Extract<TypedRecordedEvent, { type: 'TelemetryStale' | 'TelemetryResumed' }>;
const isRecordedDecision = (event: TypedRecordedEvent): event is Recorded =>
  (event.type === 'TelemetryStale' || event.type === 'TelemetryResumed') && event.metadata.actor === TELEMETRY_ACTOR;

/**
 * Replays the telemetry freshness read model and checks each recorded stale or resumed telemetry
 * against it, as of the event that caused it. Which services were watched is the fleet file's, not
 * the history's: a decision is judged with its own service watched (or, for a resumption, no longer
 * watched) and the `staleAfterSeconds` it or its staleness records; decisions never recorded are
 * not looked for.
 */
export async function verifyTelemetryDecisions(history: History): Promise<TelemetryVerdict[]> {
  const byCause = new Map<string, Recorded[]>();
  for await (const event of history.readDecoded())
    if (isRecordedDecision(event) && event.metadata.causationId)
      byCause.set(event.metadata.causationId, [...(byCause.get(event.metadata.causationId) ?? []), event]);
  const state = telemetryFreshnessProjection.initialState;
  const staleAfter = new Map<string, number>();
  const reproduced = new Set<string>();
  for await (const event of history.readDecoded()) {
    telemetryFreshnessProjection.apply(state, event);
    if (event.type === 'TelemetryStale') staleAfter.set(event.data.service, event.data.staleAfterSeconds);
    for (const decision of byCause.get(event.id) ?? []) {
      const { service } = decision.data;
      const staleAfterSeconds =
        decision.type === 'TelemetryStale' ? decision.data.staleAfterSeconds : (staleAfter.get(service) ?? 0);
      const judged = [[service], []].flatMap((watched) =>
        judgeTelemetry(state, { services: watched, staleAfterSeconds }, [service]),
      );
      const same = judged.some(
        (d) =>
          telemetryDecisionId(d, event.id) === decision.id &&
          d.expectedRevision === Number(decision.revision) - 1 &&
          isDeepStrictEqual(d.event, { type: decision.type, data: decision.data }),
      );
      if (same) reproduced.add(decision.id);
    }
  }
  return [...byCause.values()]
    .flat()
    .sort((a, b) => (a.position < b.position ? -1 : 1))
    .map((d) => ({
      eventId: d.id,
      type: d.type,
      service: d.data.service,
      position: d.position.toString(),
      reproduced: reproduced.has(d.id),
    }));
}
