import { createHash } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';
import { InvariantViolated } from '../domain/decider.js';
import { initialServiceState, isRollbackActive } from '../domain/service.js';
import { serviceDecider, type ServiceCommand } from '../domain/service-decider.js';
import type { DomainEvent, EventData, TypedRecordedEvent } from '../events/catalogue.js';
import { evaluatePolicy, judgedServices, type EvaluationScope, type Finding } from './evaluate-policy.js';
import { figureSecondsFor, latencyThresholdsFor, retainSecondsFor, type RollbackPolicy } from './rollback-policy.js';
import type { Projection } from '../runtime/projection.js';
import {
  healthWindowsProjection,
  type HealthWindowsState,
  type ServiceHealth,
} from '../../projections/health-windows.js';
import { migrationProgressProjection, type MigrationsState } from '../../projections/migration-progress.js';
import { serviceStateProjection, type ServicesState } from '../../projections/service-state.js';
import { activeAlertsProjection, type ActiveAlert, type ActiveAlertsState } from '../../projections/active-alerts.js';
import { serviceStream } from '../domain/streams.js';

/** What the policy appends to a service stream, at the stream revision it observed. */
export interface PendingAppend {
  readonly stream: string;
  /** -1 when the service stream had no events: append with `no_stream`. */
  readonly expectedRevision: number;
  /** What to append, as the service decider decides it. */
  readonly events: readonly DomainEvent[];
  /** Ids derived from the tipping event, one per event. */
  readonly eventIds: readonly string[];
  /** The event that led the policy to act: its cause. */
  readonly tippingEventId: string;
  readonly tippingPosition: string;
  readonly decidedAt: string;
  /** Decided again on the stream as it is when the stream moved on meanwhile; absent when moving on voids it. */
  readonly retry?: ServiceCommand;
}

/** A decision to record: the decision, after the rejection of a manual rollback it supersedes. */
export interface PendingDecision extends PendingAppend {
  /** The decision itself. */
  readonly decided: Extract<DomainEvent, { type: 'RollbackDecided' }>;
}

export interface RollbackDecisionsState {
  readonly services: ServicesState;
  readonly health: HealthWindowsState;
  readonly migrations: MigrationsState;
  readonly alerts: ActiveAlertsState;
  /** Rules that already led to a decision and still hold: they fire again only once they have stopped holding. */
  readonly latched: Record<string, true>;
  /** What the last event led the policy to decide (empty most of the time). */
  decisions: readonly PendingDecision[];
  /** A rollback whose verification the last event recorded as failed, escalated: never left silent. */
  escalations: readonly PendingAppend[];
}

const DECISION_NAMESPACE = '3f1d9c2e-7a4b-5c6d-8e9f-0a1b2c3d4e5f';

const latchKey = (service: string, rule: string, subject = '') => `${service}|${rule}|${subject}`;
const subjectOf = (f: Pick<Finding, 'feature' | 'migration'>) => f.feature?.target ?? f.migration?.migrationId ?? '';

/** Ids are derived from the service, the rule and the tipping event: deciding again writes nothing. */
export function decisionIds(
  service: string,
  rule: string,
  tippingEventId: string,
): { rollbackId: string; eventId: (index: number) => string } {
  const key = `${service}|${rule}|${tippingEventId}`;
  return {
    rollbackId: `rb-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`,
    eventId: (index) => uuidv5(`rollback-decided:${key}:${index}`, DECISION_NAMESPACE),
  };
}

/** Most events decide nothing: they share one empty answer rather than each allocating its own. */
const NOTHING: readonly never[] = Object.freeze([]);

/** `serviceScope` gives the scope of a sample or an alert of the service: one per service, not one per event. */
function scopeOf(
  event: TypedRecordedEvent,
  serviceScope: (service: string) => EvaluationScope,
): EvaluationScope | undefined {
  if (event.type === 'HealthSampleRecorded') return serviceScope(event.data.service);
  if (event.type === 'AlertReceived')
    return event.data.service === undefined ? undefined : serviceScope(event.data.service);
  if (event.type.startsWith('Migration'))
    return { migrationId: (event.data as { migrationId: string }).migrationId, healthRules: false };
  return undefined;
}

/**
 * A service whose last judgement found nothing, with what it read: its windows and alerts as they
 * were (objects replaced, never changed, by anything but a sample or an alert of the service, both
 * judged at once) and the recorded time before which the same judgement follows from them.
 */
interface Steady {
  health: ServiceHealth | undefined;
  alerts: Record<string, ActiveAlert> | undefined;
  until: number;
}

/**
 * Kept beside each state, never in it (no version, no checkpoint): a state restored from a
 * checkpoint judges every service at its first tick again, as without it.
 */
const steadyOf = new WeakMap<RollbackDecisionsState, Map<string, Steady>>();

function hasAny(record: Record<string, unknown>): boolean {
  for (const _ in record) return true;
  return false;
}

/**
 * A tick moves only the time: it judges every service but those whose last judgement found
 * nothing, whose windows and alerts are still the ones judged, and for which the new time is still
 * before the judgement could change. Those would find nothing again, so leaving them out decides
 * exactly the same. While any rule is latched every service is judged: judging one that no longer
 * holds releases its latch.
 */
function tickScope(state: RollbackDecisionsState, now: number): EvaluationScope {
  const steady = steadyOf.get(state);
  if (!steady || hasAny(state.latched)) return {};
  return {
    services: judgedServices(state).filter((service) => {
      const last = steady.get(service);
      return !(
        last &&
        now < last.until &&
        last.health === state.health.services[service] &&
        last.alerts === state.alerts.services[service]
      );
    }),
  };
}

/** Notes what each service's judgement read and until when it holds, reusing the entries. */
function noteSteady(state: RollbackDecisionsState, judged: ReadonlyMap<string, number>) {
  let steady = steadyOf.get(state);
  if (!steady) steadyOf.set(state, (steady = new Map()));
  for (const [service, until] of judged) {
    const health = state.health.services[service];
    const alerts = state.alerts.services[service];
    const last = steady.get(service);
    if (!last) steady.set(service, { health, alerts, until });
    else {
      last.health = health;
      last.alerts = alerts;
      last.until = until;
    }
  }
}

/** A latch is released once an evaluation that covered its rule found the rule no longer holding. */
function releaseLatches(
  policy: RollbackPolicy,
  latched: Record<string, true>,
  scope: EvaluationScope,
  findings: readonly Finding[],
): void {
  if (!hasAny(latched)) return;
  const keys = Object.keys(latched);
  const holding = new Set(findings.map((f) => latchKey(f.service, f.rule, subjectOf(f))));
  for (const key of keys) {
    if (holding.has(key)) continue;
    const [service, rule, subject] = key.split('|');
    const migrationRule = policy.rules[rule!]?.when.startsWith('migration_') ?? false;
    const covered = scope.services
      ? !migrationRule && scope.services.includes(service!)
      : scope.migrationId
        ? migrationRule && subject === scope.migrationId
        : true;
    if (covered) delete latched[key];
  }
}

function toDecision(finding: Finding, state: RollbackDecisionsState, tipping: TypedRecordedEvent): PendingDecision {
  const view = state.services.services[finding.service];
  const { rollbackId, eventId } = decisionIds(finding.service, finding.rule, tipping.id);
  const evidence = finding.evidenceEventIds.includes(tipping.id)
    ? finding.evidenceEventIds
    : [...finding.evidenceEventIds, tipping.id];
  const fullRollback = finding.mode !== 'disable_feature' && !finding.migration;
  const targetRelease =
    fullRollback && view?.lastKnownGood && view.lastKnownGood !== view.currentRelease ? view.lastKnownGood : undefined;
  const data: EventData<'RollbackDecided'> = {
    rollbackId,
    service: finding.service,
    mode: finding.mode,
    rule: finding.rule,
    threshold: finding.threshold,
    observed: finding.observed,
    unit: finding.unit,
    evidenceEventIds: [...evidence],
    severity: finding.severity,
    ...(finding.window && { window: finding.window }),
    ...(targetRelease && { targetRelease }),
    ...(finding.feature && { feature: finding.feature }),
    ...(finding.migration && { migration: finding.migration }),
    ...(finding.alert && { alert: finding.alert }),
  };
  const events = serviceDecider.decide(view ?? initialServiceState, { type: 'DecideRollback', ...data });
  return {
    stream: serviceStream(finding.service),
    expectedRevision: view?.revision ?? -1,
    decided: { type: 'RollbackDecided', data },
    events,
    eventIds: events.map((_, index) => eventId(index)),
    tippingEventId: tipping.id,
    tippingPosition: tipping.position.toString(),
    decidedAt: new Date(Math.max(state.health.asOf, state.migrations.asOf)).toISOString(),
  };
}

/**
 * The seeds' verification is the moment of truth: a rollback that did not bring the service back
 * goes to a person as an incident, P0 when the restored release does not even answer its health
 * checks (the service is down), P1 otherwise.
 */
function toEscalation(
  event: Extract<TypedRecordedEvent, { type: 'RollbackVerified' }>,
  state: RollbackDecisionsState,
): PendingAppend | undefined {
  const { service, rollbackId, checks } = event.data;
  const view = state.services.services[service];
  const failed = checks.filter((check) => !check.passed);
  const down = failed.some((check) => check.name.startsWith('health') || check.name === 'instances');
  const what = failed.map((check) => `${check.name}${check.detail ? ` (${check.detail})` : ''}`).join('; ');
  const reason =
    `post-rollback verification failed: ${what}`.slice(0, 1800) +
    `; ${view?.currentRelease ?? 'the restored release'} did not bring ${service} back: a person must act`;
  try {
    const command = { type: 'EscalateRollback', service, rollbackId, reason, severity: down ? 'P0' : 'P1' } as const;
    const events = serviceDecider.decide(view ?? initialServiceState, command);
    return {
      stream: serviceStream(service),
      expectedRevision: view?.revision ?? -1,
      events,
      eventIds: events.map((_, index) => uuidv5(`rollback-escalated:${event.id}:${index}`, DECISION_NAMESPACE)),
      tippingEventId: event.id,
      tippingPosition: event.position.toString(),
      decidedAt: event.metadata.occurredAt,
      retry: command,
    };
  } catch (error) {
    // Someone already moved the rollback on (escalated it, say): nothing left to do.
    if (error instanceof InvariantViolated) return undefined;
    throw error;
  }
}

/** At most one decision per service at a time, never for a rule already acted on, nor a feature already off. */
function choose(findings: readonly Finding[], state: RollbackDecisionsState): Finding[] {
  if (findings.length === 0) return [];
  const chosen = new Map<string, Finding>();
  for (const finding of findings) {
    const view = state.services.services[finding.service];
    const supersedes = finding.mode === 'automatic' && view?.rollback?.status === 'awaiting_approval';
    if (chosen.has(finding.service) || (view && isRollbackActive(view) && !supersedes)) continue;
    if (state.latched[latchKey(finding.service, finding.rule, subjectOf(finding))]) continue;
    if (finding.feature && view?.disabledTools.includes(finding.feature.target)) continue;
    chosen.set(finding.service, finding);
  }
  return [...chosen.values()];
}

/**
 * The rollback policy's process manager as a fold: the read models it needs, plus, after each
 * event, the decisions the policy makes. Deterministic, so `failsafe audit verify` can run the same
 * fold over the history and compare its decisions with the recorded ones.
 */
export function rollbackDecisionsProjection(policy: RollbackPolicy): Projection<RollbackDecisionsState> {
  const health = healthWindowsProjection(
    retainSecondsFor(policy),
    latencyThresholdsFor(policy),
    figureSecondsFor(policy),
  );
  /** What the current evaluation tells of each service it judged (filled and read within one `apply`). */
  const judged = new Map<string, number>();
  // Kept by this fold, not the module: they go with it, and with its services.
  const scopes = new Map<string, EvaluationScope>();
  const serviceScope = (service: string): EvaluationScope => {
    let scope = scopes.get(service);
    if (!scope) scopes.set(service, (scope = { services: [service], migrationRules: false }));
    return scope;
  };
  return {
    name: 'rollback-decisions',
    // With the versions of the read models it folds: a change to any of them (versions only go up)
    // discards its checkpoints too, which hold their states.
    version:
      7 +
      serviceStateProjection.version +
      health.version +
      migrationProgressProjection.version +
      activeAlertsProjection.version,
    get initialState(): RollbackDecisionsState {
      return {
        services: serviceStateProjection.initialState,
        health: health.initialState,
        migrations: migrationProgressProjection.initialState,
        alerts: activeAlertsProjection.initialState,
        latched: {},
        decisions: [],
        escalations: [],
      };
    },
    apply(state, event) {
      serviceStateProjection.apply(state.services, event);
      health.apply(state.health, event);
      migrationProgressProjection.apply(state.migrations, event);
      activeAlertsProjection.apply(state.alerts, event);
      state.decisions = NOTHING;
      state.escalations = NOTHING;
      if (event.type === 'RollbackVerified' && !event.data.passed) {
        const escalation = toEscalation(event, state);
        if (escalation) state.escalations = [escalation];
      }
      if (event.type === 'RollbackDecided') {
        state.latched[
          latchKey(
            event.data.service,
            event.data.rule,
            event.data.feature?.target ?? event.data.migration?.migrationId ?? '',
          )
        ] = true;
      }
      const now = Math.max(state.health.asOf, state.migrations.asOf);
      const scope = event.type === 'ClockTicked' ? tickScope(state, now) : scopeOf(event, serviceScope);
      if (!scope) return state;
      judged.clear();
      const findings = evaluatePolicy(policy, state, now, scope, judged);
      noteSteady(state, judged);
      releaseLatches(policy, state.latched, scope, findings);
      if (findings.length === 0) return state;
      state.decisions = choose(findings, state).flatMap((finding) => {
        try {
          return [toDecision(finding, state, event)];
        } catch (error) {
          // The service decider has the last word: a decision it refuses is not made.
          if (error instanceof InvariantViolated) return [];
          throw error;
        }
      });
      return state;
    },
  };
}
