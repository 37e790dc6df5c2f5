import { POLICY_ACTOR } from '../policy/rollback-process-manager.js';
import { rollbackDecisionsProjection, type PendingDecision } from '../policy/rollback-decisions.js';
import type { RollbackPolicy } from '../policy/rollback-policy.js';
import type { DecidedEvent } from './explain-decision.js';
import type { History } from './history.js';
import { verifyTelemetryDecisions, type TelemetryVerdict } from './verify-telemetry-decisions.js';

export interface RecordedVerdict {
  readonly rollbackId: string;
  readonly service: string;
  readonly rule: string;
  readonly position: string;
  readonly reproduced: boolean;
}

export interface MissingDecision {
  readonly rollbackId: string;
  readonly service: string;
  readonly rule: string;
  /** The event after which the policy would have decided. */
  readonly tippingEventId: string;
  readonly tippingPosition: string;
}

export interface AuditReport {
  readonly eventsReplayed: number;
  readonly recorded: readonly RecordedVerdict[];
  readonly missing: readonly MissingDecision[];
  /** Each recorded stale or resumed telemetry, reproduced or not. */
  readonly telemetry: readonly TelemetryVerdict[];
  readonly ok: boolean;
}

/**
 * Re-runs the policy over the whole history and compares: each recorded policy decision is
 * reproduced or not, and each decision the policy would have made is recorded, or was rightly
 * dropped because the service stream had moved on (another event took its place, as the live
 * process manager's expected revision would have seen), or is missing. Recorded stale-telemetry
 * decisions are checked too (verifyTelemetryDecisions).
 */
export async function verifyDecisions(history: History, policy: RollbackPolicy): Promise<AuditReport> {
  const projection = rollbackDecisionsProjection(policy);
  const state = projection.initialState;
  const computed: PendingDecision[] = [];
  const recordedDecisions: DecidedEvent[] = [];
  // For each computed decision, the id of the event its stream recorded next (the decision, or what preempted it).
  const recordedNext = new Map<string, string | undefined>();
  const slot = (stream: string, revision: bigint | number) => `${stream}@${revision}`;
  let eventsReplayed = 0;
  for await (const event of history.readDecoded()) {
    const here = slot(event.stream, event.revision);
    if (recordedNext.has(here)) recordedNext.set(here, event.id);
    projection.apply(state, event);
    for (const decision of state.decisions) {
      computed.push(decision);
      const next = slot(decision.stream, decision.expectedRevision + 1);
      if (!recordedNext.has(next)) recordedNext.set(next, undefined);
    }
    if (event.type === 'RollbackDecided' && event.metadata.actor === POLICY_ACTOR) recordedDecisions.push(event);
    eventsReplayed += 1;
  }
  const computedIds = new Set(computed.map((d) => d.decided.data.rollbackId));
  const recordedIds = new Set(recordedDecisions.map((d) => d.data.rollbackId));
  const recorded = recordedDecisions.map((d) => ({
    rollbackId: d.data.rollbackId,
    service: d.data.service,
    rule: d.data.rule,
    position: d.position.toString(),
    reproduced: computedIds.has(d.data.rollbackId),
  }));
  const missing: MissingDecision[] = [];
  // Decisions meant for the same revision of the same stream are one episode retried at each new sample.
  const episodes = new Set<string>();
  for (const decision of computed) {
    const { rollbackId, service, rule } = decision.decided.data;
    const episode = `${decision.stream}@${decision.expectedRevision}`;
    if (recordedIds.has(rollbackId) || episodes.has(episode)) continue;
    episodes.add(episode);
    const next = recordedNext.get(slot(decision.stream, decision.expectedRevision + 1));
    const preempted = next !== undefined && next !== decision.eventIds[0];
    if (!preempted)
      missing.push({
        rollbackId,
        service,
        rule,
        tippingEventId: decision.tippingEventId,
        tippingPosition: decision.tippingPosition,
      });
  }
  const telemetry = await verifyTelemetryDecisions(history);
  const ok = missing.length === 0 && recorded.every((r) => r.reproduced) && telemetry.every((t) => t.reproduced);
  return { eventsReplayed, recorded, missing, telemetry, ok };
}
