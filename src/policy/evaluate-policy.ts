import type { RollbackMode } from '../domain/service.js';
import {
  errorRateOf,
  firstAfter,
  latencyOf,
  openSinceOf,
  sumsOf,
  QUANTILE,
  toolErrorsOf,
  type HealthWindowsState,
  type SamplePoint,
  type ServiceHealth,
} from '../../projections/health-windows.js';
import { between, firstAfterIn, upTo, type WindowSums } from '../../projections/window-sums.js';
import { stalledForSeconds, type MigrationsState } from '../../projections/migration-progress.js';
import type { ActiveAlert, ActiveAlertsState } from '../../projections/active-alerts.js';
import type { PolicyRule, RollbackPolicy } from './rollback-policy.js';

/** What the policy reads: the read models, as of one recorded instant. */
export interface PolicyReadModel {
  readonly health: HealthWindowsState;
  readonly migrations: MigrationsState;
  readonly alerts: ActiveAlertsState;
}

/** A rule that holds, with the evidence an auditor needs to check it. */
export interface Finding {
  readonly rule: string;
  readonly mode: RollbackMode;
  readonly severity: 'P0' | 'P1' | 'P2' | 'P3';
  readonly service: string;
  readonly threshold: number;
  readonly observed: number;
  readonly unit: string;
  readonly window?: { readonly from: string; readonly to: string; readonly sampleCount: number };
  /** The events that tipped it: the samples (or migration events) behind the figure. */
  readonly evidenceEventIds: readonly string[];
  readonly feature?: { readonly scope: 'tool'; readonly target: string };
  readonly migration?: { readonly migrationId: string; readonly toStage: string };
  /** For an alert rule: the firing alert it acted on. */
  readonly alert?: { readonly alertname: string; readonly fingerprint: string; readonly startsAt: string };
}

const MAX_EVIDENCE = 20;
const MODES: Record<PolicyRule['action'], RollbackMode> = {
  automatic_rollback: 'automatic',
  manual_rollback: 'manual',
  disable_feature: 'disable_feature',
};
const DEFAULT_SEVERITY: Record<RollbackMode, Finding['severity']> = {
  automatic: 'P1',
  manual: 'P2',
  disable_feature: 'P3',
};

type Raw = Omit<Finding, 'rule' | 'mode' | 'severity' | 'threshold'>;
/** Most evaluations find nothing: one shared empty answer spares an allocation each. */
const NONE: readonly Raw[] = [];

const iso = (ms: number) => new Date(ms).toISOString();
const evidence = (samples: readonly SamplePoint[]) => samples.slice(-MAX_EVIDENCE).map((s) => s.id);
const windowEvidence = (from: number, to: number, samples: readonly SamplePoint[]) => ({
  from: iso(from),
  to: iso(to),
  sampleCount: samples.length,
});

/** The samples taken in the `seconds` up to `now`, as positions in the service's samples: no copy. */
interface Span {
  from: number;
  start: number;
  end: number;
}

/**
 * The spans found for the service being judged, by length: several rules read windows of the same
 * length, each searched once. Forgotten before each service (`evaluatePolicy` is the only caller),
 * so nothing outlives an evaluation; entries past `count` are left over, to be reused.
 */
const spans = { count: 0, seconds: [] as number[], found: [] as Span[] };

/**
 * The recorded time before which nothing the service's judgement read of the time moves: no sample
 * leaves or enters a window searched, no sustained rule's period comes to be covered. Until then,
 * with the same samples and alerts, the same judgement follows.
 */
let steadyUntil = Number.POSITIVE_INFINITY;
function forgetSpans() {
  spans.count = 0;
  steadyUntil = Number.POSITIVE_INFINITY;
}
const steadyBefore = (time: number) => {
  if (time < steadyUntil) steadyUntil = time;
};

function spanOf(health: ServiceHealth, sums: WindowSums, seconds: number, now: number): Span {
  for (let i = 0; i < spans.count; i += 1) if (spans.seconds[i] === seconds) return spans.found[i]!;
  const { samples } = health;
  const from = now - seconds * 1000;
  // Most often no sample is newer than now: the end needs no search.
  const end = samples[samples.length - 1]!.at <= now ? samples.length : firstAfterIn(sums, now);
  const start = firstAfterIn(sums, from);
  // The oldest sample leaves the window once it is `seconds` old; the next newer than now enters it at its time.
  if (start < end) steadyBefore(samples[start]!.at + seconds * 1000);
  if (end < samples.length) steadyBefore(samples[end]!.at);
  const span = (spans.found[spans.count] ??= { from, start, end });
  span.from = from;
  span.start = start;
  span.end = end;
  spans.seconds[spans.count] = seconds;
  spans.count += 1;
  return span;
}
const spanSamples = (health: ServiceHealth, span: Span) => health.samples.slice(span.start, span.end);
const spanEvidence = (health: ServiceHealth, span: Span, now: number) => ({
  window: { from: iso(span.from), to: iso(now), sampleCount: span.end - span.start },
  evidenceEventIds: health.samples.slice(Math.max(span.start, span.end - MAX_EVIDENCE), span.end).map((s) => s.id),
});

/** Running totals of whole counts are exact while they stay within the safe integers (they grow monotonically). */
const exact = (sums: WindowSums, list: readonly number[], span: Span) =>
  Number.isSafeInteger(upTo(sums, list, span.end));
const over = (value: number | undefined, threshold: number) =>
  value !== undefined && value > threshold ? value : undefined;

/**
 * The mean of the reported error rates over the span is surely at or under the threshold: the
 * running total of rate × weight is a floating-point sum, so it is trusted only with a margin
 * beyond its rounding (bounded by the additions since the totals started from zero) and beyond
 * the rounding of the direct computation it stands in for.
 */
function ratesSurelyUnder(health: ServiceHealth, sums: WindowSums, span: Span, weight: number, threshold: number) {
  const additions = sums.dropped + health.samples.length + 2;
  const bound = 4 * additions * Number.EPSILON * upTo(sums, sums.rated, span.end);
  return (between(sums, sums.rated, span.start, span.end) + bound) * (1 + 1e-6) < threshold * weight * (1 - 1e-6);
}

/**
 * The window's error rate when it is over the threshold, else undefined, exactly as `errorRateOf`
 * over the window's samples: decided from the running totals, without a pass over the window.
 */
function errorRateOver(health: ServiceHealth, sums: WindowSums, span: Span, threshold: number): number | undefined {
  if (!exact(sums, sums.requests, span) || !exact(sums, sums.errors, span) || !exact(sums, sums.ratedWeight, span))
    return over(errorRateOf(spanSamples(health, span)), threshold);
  const requests = between(sums, sums.requests, span.start, span.end);
  if (requests > 0) return over(between(sums, sums.errors, span.start, span.end) / requests, threshold);
  const weight = between(sums, sums.ratedWeight, span.start, span.end);
  if (weight === 0 || ratesSurelyUnder(health, sums, span, weight, threshold)) return undefined;
  return over(errorRateOf(spanSamples(health, span)), threshold);
}

/**
 * The window's P95 when it is over the threshold, else undefined, exactly as `latencyOf`: the
 * weighted quantile is over the threshold exactly when the weight at or under the threshold falls
 * short of the quantile's share of the weight (weights are whole numbers: exact sums). Only then
 * is the figure itself computed, by selection over the window.
 */
function latencyOver(
  health: ServiceHealth,
  sums: WindowSums,
  thresholds: readonly number[],
  span: Span,
  threshold: number,
): number | undefined {
  const counted = sums.atOrUnder[thresholds.indexOf(threshold)];
  if (counted && exact(sums, sums.timedWeight, span)) {
    const weight = between(sums, sums.timedWeight, span.start, span.end);
    if (weight === 0 || between(sums, counted, span.start, span.end) >= QUANTILE.p95 * weight) return undefined;
  }
  return over(latencyOf(spanSamples(health, span), 'p95'), threshold);
}

/** The rule's figure over the span when it is over the rule's threshold, else undefined. */
function figureOver(
  rule: PreparedRule,
  health: ServiceHealth,
  sums: WindowSums,
  thresholds: readonly number[],
  span: Span,
): number | undefined {
  const { threshold } = rule;
  return rule.when === 'error_rate'
    ? errorRateOver(health, sums, span, threshold)
    : latencyOver(health, sums, thresholds, span, threshold);
}

/** Some tool's error rate over the span is over the threshold (or the totals cannot tell exactly). */
function someToolOver(sums: WindowSums, span: Span, threshold: number): boolean {
  return sums.tools.some((tool) => {
    if (!exact(sums, tool.calls, span) || !exact(sums, tool.errors, span)) return true;
    const calls = between(sums, tool.calls, span.start, span.end);
    return calls > 0 && between(sums, tool.errors, span.start, span.end) / calls > threshold;
  });
}

function healthFindings(
  rule: PreparedRule,
  service: string,
  health: ServiceHealth | undefined,
  now: number,
  thresholds: readonly number[],
): readonly Raw[] {
  const { threshold, windowSeconds } = rule;
  const latest = health?.samples[health.samples.length - 1];
  if (!health || !latest) return NONE;
  const sums = sumsOf(health, thresholds);
  switch (rule.when) {
    case 'health_failing_for': {
      // Up to the newest sample, not to now: silence after a failing sample is missing data, not
      // more failure (stale telemetry is its own condition), and never a reason to roll back.
      const since = health.failingSince;
      const observed = since ? (latest.at - since.at) / 1000 : 0;
      if (!since || observed <= threshold) return NONE;
      // Sample times are whole milliseconds: after one before `since` is at or after it.
      const failing = health.samples.slice(firstAfter(health.samples, since.at - 1));
      return [
        {
          service,
          observed,
          unit: 's',
          window: windowEvidence(since.at, latest.at, failing),
          evidenceEventIds: [since.id, ...evidence(failing.slice(1))],
        },
      ];
    }
    case 'error_rate':
    case 'latency_p95_ms': {
      const unit = rule.when === 'error_rate' ? 'ratio' : 'ms';
      const current = spanOf(health, sums, windowSeconds, now);
      const currentValue = figureOver(rule, health, sums, thresholds, current);
      if (currentValue === undefined) return NONE;
      if (rule.forSeconds === undefined) {
        return [{ service, observed: currentValue, unit, ...spanEvidence(health, current, now) }];
      }
      // Sustained: the samples must cover the whole period, over which the figure breaches too (and still does now).
      if (health.samples[0]!.at > now - rule.forSeconds * 1000) {
        // Whole seconds and milliseconds: exactly from then on the period is covered.
        steadyBefore(health.samples[0]!.at + rule.forSeconds * 1000);
        return NONE;
      }
      const sustained = spanOf(health, sums, rule.forSeconds, now);
      const sustainedValue = figureOver(rule, health, sums, thresholds, sustained);
      if (sustainedValue === undefined) return NONE;
      return [{ service, observed: sustainedValue, unit, ...spanEvidence(health, sustained, now) }];
    }
    case 'memory_used_ratio': {
      const observed = latest.memoryUsedRatio;
      if (observed === undefined || observed <= threshold) return NONE;
      return [{ service, observed, unit: 'ratio', evidenceEventIds: [latest.id] }];
    }
    case 'memory_growth': {
      // Cheap test first (no copy of a long window): most of the time memory has not grown by the threshold.
      const oldest = health.samples[spanOf(health, sums, windowSeconds, now).start];
      if (
        oldest?.memoryUsedRatio === undefined ||
        latest.memoryUsedRatio === undefined ||
        latest.memoryUsedRatio - oldest.memoryUsedRatio < threshold
      )
        return NONE;
      const samples = spanSamples(health, spanOf(health, sums, windowSeconds, now)).filter(
        (s) => s.memoryUsedRatio !== undefined,
      );
      if (samples.length < 3) return NONE;
      const first = samples[0]!;
      const span = (latest.at - first.at) / 1000;
      const growth = latest.memoryUsedRatio! - first.memoryUsedRatio!;
      const rising = samples.slice(1).filter((s, i) => s.memoryUsedRatio! >= samples[i]!.memoryUsedRatio!).length;
      // A leak grows steadily over most of the window; a spike or a sawtooth does not.
      if (growth < threshold || span < windowSeconds * 0.8 || rising < (samples.length - 1) * 0.8) return NONE;
      return [
        {
          service,
          observed: growth,
          unit: 'ratio',
          window: windowEvidence(first.at, now, samples),
          evidenceEventIds: evidence(samples),
        },
      ];
    }
    case 'protocol_error':
      return latest.protocolError ? [{ service, observed: 1, unit: 'errors', evidenceEventIds: [latest.id] }] : NONE;
    case 'circuit_breaker_open_for':
      if (latest.openBreakers.length === 0) return NONE;
      return latest.openBreakers.flatMap((breaker) => {
        const since = openSinceOf(health, breaker)!;
        // Up to the newest sample, as for failing health checks: silence does not keep a breaker open.
        const observed = (latest.at - since.at) / 1000;
        if (observed <= threshold) return NONE;
        const open = health.samples.slice(firstAfter(health.samples, since.at - 1));
        return [
          {
            service,
            observed,
            unit: 's',
            window: windowEvidence(since.at, latest.at, open),
            evidenceEventIds: evidence(open),
            feature: { scope: 'tool' as const, target: breaker },
          },
        ];
      });
    case 'tool_error_rate': {
      const span = spanOf(health, sums, windowSeconds, now);
      // The running totals tell cheaply that no tool is over; the findings (in the order tools were
      // first seen in the window, with their evidence) come from the window itself.
      if (!someToolOver(sums, span, threshold)) return NONE;
      const samples = spanSamples(health, span);
      return [...toolErrorsOf(samples)]
        .filter(([, t]) => t.calls > 0 && t.errors / t.calls > threshold)
        .map(([name, t]) => ({
          service,
          observed: t.errors / t.calls,
          unit: 'ratio',
          window: windowEvidence(span.from, now, samples),
          evidenceEventIds: t.evidence.slice(-MAX_EVIDENCE),
          feature: { scope: 'tool' as const, target: name },
        }));
    }
    default:
      return NONE;
  }
}

/**
 * The alert the rule names that has fired longest for the service (the one an incident starts
 * from), with its AlertReceived event as the evidence. Only called for a service with an alert firing.
 */
function alertFindings(rule: PolicyRule, service: string, firing: Record<string, ActiveAlert>): readonly Raw[] {
  let first: ActiveAlert | undefined;
  for (const alert of Object.values(firing)) {
    if (!rule.alerts!.includes(alert.alertname)) continue;
    const earlier =
      !first || alert.startsAt < first.startsAt || (alert.startsAt === first.startsAt && alert.eventId < first.eventId);
    if (earlier) first = alert;
  }
  if (!first) return NONE;
  return [
    {
      service,
      observed: 1,
      unit: 'alert',
      alert: { alertname: first.alertname, fingerprint: first.fingerprint, startsAt: iso(first.startsAt) },
      evidenceEventIds: [first.eventId],
    },
  ];
}

function migrationFindings(rule: PolicyRule, model: MigrationsState, now: number, only?: string): Raw[] {
  const threshold = rule.threshold ?? 0;
  return Object.values(model.migrations)
    .filter((m) => m.status === 'running' && (only === undefined || m.migrationId === only))
    .flatMap((m): Raw[] => {
      const previous = m.stages[m.stages.indexOf(m.stage) - 1];
      const revert = previous ? { migrationId: m.migrationId, toStage: previous } : undefined;
      if (rule.when === 'migration_error_rate' && m.errorRate > threshold && m.lastProgressEventId) {
        return [
          {
            service: m.service,
            observed: m.errorRate,
            unit: 'ratio',
            evidenceEventIds: [m.lastProgressEventId],
            ...(revert && { migration: revert }),
          },
        ];
      }
      if (rule.when === 'migration_stalled_for') {
        const observed = stalledForSeconds(m, now);
        if (observed > threshold) {
          return [
            {
              service: m.service,
              observed,
              unit: 's',
              window: { from: iso(m.lastMovedAt), to: iso(now), sampleCount: 0 },
              evidenceEventIds: [m.lastMovedEventId],
              ...(revert && { migration: revert }),
            },
          ];
        }
      }
      return [];
    });
}

export interface EvaluationScope {
  /** Judge only these services' health rules (all when absent). */
  readonly services?: readonly string[];
  /** Judge only this migration's rules (all when absent). */
  readonly migrationId?: string;
  readonly healthRules?: boolean;
  readonly migrationRules?: boolean;
}

const PRECEDENCE: Record<RollbackMode, number> = { automatic: 0, manual: 1, disable_feature: 2 };

interface PreparedRule {
  readonly name: string;
  readonly rule: PolicyRule;
  /** The rule's fields, defaults applied, in one shape for every rule (the rules' own shapes differ). */
  readonly when: PolicyRule['when'];
  readonly windowSeconds: number;
  readonly forSeconds: number | undefined;
  readonly mode: RollbackMode;
  readonly severity: Finding['severity'];
  readonly threshold: number;
  readonly migrationRule: boolean;
  readonly alertRule: boolean;
}

/** What each rule means, worked out once per policy rather than at every evaluation. */
const prepared = new WeakMap<RollbackPolicy, readonly PreparedRule[]>();
function rulesOf(policy: RollbackPolicy): readonly PreparedRule[] {
  let rules = prepared.get(policy);
  if (!rules) {
    rules = Object.entries(policy.rules).map(([name, rule]) => {
      const mode = MODES[rule.action];
      const severity = rule.severity ?? DEFAULT_SEVERITY[mode];
      return {
        name,
        rule,
        when: rule.when,
        windowSeconds: rule.windowSeconds ?? 60,
        forSeconds: rule.forSeconds,
        mode,
        severity,
        threshold: rule.threshold ?? 0,
        migrationRule: rule.when.startsWith('migration_'),
        alertRule: rule.when === 'alert_firing',
      };
    });
    prepared.set(policy, rules);
  }
  return rules;
}

/**
 * The services with windows, in name order: sorted once, not at every tick. The windows never
 * forget a service, so the same object with as many services has the same ones.
 */
const sortedNames = new WeakMap<HealthWindowsState['services'], string[]>();
function serviceNames(health: HealthWindowsState): readonly string[] {
  const names = Object.keys(health.services);
  const known = sortedNames.get(health.services);
  if (known?.length === names.length) return known;
  names.sort();
  sortedNames.set(health.services, names);
  return names;
}

/**
 * The services a judgement of every service judges, in name order: those with windows and those
 * with an alert firing (a service may have alerts before any sample).
 */
export function judgedServices(model: PolicyReadModel): readonly string[] {
  const names = serviceNames(model.health);
  const alerting = Object.keys(model.alerts.services);
  if (alerting.every((service) => names.includes(service))) return names;
  return [...new Set([...names, ...alerting])].sort();
}

function collect(findings: Finding[], { name, mode, severity, threshold }: PreparedRule, raw: readonly Raw[]) {
  for (const finding of raw) findings.push({ rule: name, mode, severity, threshold, ...finding });
}

/**
 * The decision matrix applied to the read models as of `now` (recorded time): every rule that
 * holds, with its figure and evidence, the strongest action first (automatic, then manual, then
 * disabling a feature). Pure: the same read model always gives the same findings.
 *
 * `steady`, when given, is told for each service judged the recorded time before which judging it
 * again finds nothing, as long as its samples and alerts stay as they are (`now` when it found
 * something: no promise). Only the time can move its judgement meanwhile, and only by a sample
 * leaving or entering a window searched, or a sustained rule's period becoming covered.
 */
export function evaluatePolicy(
  policy: RollbackPolicy,
  model: PolicyReadModel,
  now: number,
  scope: EvaluationScope = {},
  steady?: Map<string, number>,
): Finding[] {
  const services = scope.services ?? judgedServices(model);
  const rules = rulesOf(policy);
  // Findings in the order of the rules, then of the services; gathered service by service (each
  // service's windows are read once, while they are in the cache), and per rule only when found.
  let byRule: (Finding[] | undefined)[] | undefined;
  if (scope.healthRules !== false) {
    for (const service of services) {
      const health = model.health.services[service];
      // One lookup: a service with no alert firing costs its alert rules nothing more.
      const firing = model.alerts.services[service];
      forgetSpans();
      let found = false;
      for (let r = 0; r < rules.length; r += 1) {
        const prepared = rules[r]!;
        if (prepared.migrationRule || (prepared.alertRule && !firing)) continue;
        const raw = prepared.alertRule
          ? alertFindings(prepared.rule, service, firing!)
          : healthFindings(prepared, service, health, now, model.health.latencyThresholds);
        if (raw.length === 0) continue;
        found = true;
        collect(((byRule ??= [])[r] ??= []), prepared, raw);
      }
      steady?.set(service, found ? now : steadyUntil);
    }
  }
  if (scope.migrationRules !== false) {
    for (let r = 0; r < rules.length; r += 1) {
      if (!rules[r]!.migrationRule) continue;
      const raw = migrationFindings(rules[r]!.rule, model.migrations, now, scope.migrationId);
      if (raw.length > 0) collect(((byRule ??= [])[r] ??= []), rules[r]!, raw);
    }
  }
  if (!byRule) return [];
  const findings = byRule.flatMap((found) => found ?? []);
  return findings.length > 1 ? findings.sort((a, b) => PRECEDENCE[a.mode] - PRECEDENCE[b.mode]) : findings;
}

/** Where a finding comes in `evaluatePolicy`'s answer, as a key to compare (see `compareFindingOrder`). */
export type FindingOrder = readonly [precedence: number, rule: number, within: string | number];

/**
 * Where a finding of the rule comes among the findings of one evaluation: by precedence, then by
 * rule, then by service name (health and alert rules, judged in name order) or by the migration's
 * place in the read model (migration rules). Findings of one service keep their order; this key
 * places findings of different services evaluated apart (a split verification) as one evaluation would.
 * `migrationId` is the migration a migration rule's finding is about.
 */
export function findingOrder(
  policy: RollbackPolicy,
  model: PolicyReadModel,
  finding: Pick<Finding, 'rule' | 'service'>,
  migrationId?: string,
): FindingOrder {
  const rules = rulesOf(policy);
  const rule = rules.findIndex((r) => r.name === finding.rule);
  const prepared = rules[rule]!;
  const within = prepared.migrationRule
    ? Object.keys(model.migrations.migrations).indexOf(migrationId ?? '')
    : finding.service;
  return [PRECEDENCE[prepared.mode], rule, within];
}

export function compareFindingOrder(a: FindingOrder, b: FindingOrder): number {
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return 0;
}
