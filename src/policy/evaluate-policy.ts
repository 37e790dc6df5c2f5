import type { RollbackMode } from '../domain/service.js';
import {
  errorRateOf,
  firstAfter,
  latencyOf,
  samplesIn,
  toolErrorsOf,
  type HealthWindowsState,
  type SamplePoint,
  type ServiceHealth,
} from '../../projections/health-windows.js';
import { stalledForSeconds, type MigrationsState } from '../../projections/migration-progress.js';
import type { PolicyRule, RollbackPolicy } from './rollback-policy.js';

/** What the policy reads: the read models, as of one recorded instant. */
export interface PolicyReadModel {
  readonly health: HealthWindowsState;
  readonly migrations: MigrationsState;
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

const iso = (ms: number) => new Date(ms).toISOString();
const evidence = (samples: readonly SamplePoint[]) => samples.slice(-MAX_EVIDENCE).map((s) => s.id);
const windowEvidence = (from: number, to: number, samples: readonly SamplePoint[]) => ({
  from: iso(from),
  to: iso(to),
  sampleCount: samples.length,
});

function healthFindings(rule: PolicyRule, service: string, health: ServiceHealth | undefined, now: number): Raw[] {
  const threshold = rule.threshold ?? 0;
  const windowSeconds = rule.windowSeconds ?? 60;
  const latest = health?.samples.at(-1);
  if (!health || !latest) return [];
  switch (rule.when) {
    case 'health_failing_for': {
      // Up to the newest sample, not to now: silence after a failing sample is missing data, not
      // more failure (stale telemetry is its own condition), and never a reason to roll back.
      const since = health.failingSince;
      const observed = since ? (latest.at - since.at) / 1000 : 0;
      if (!since || observed <= threshold) return [];
      const failing = health.samples.filter((s) => s.at >= since.at);
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
      const figureOver = (seconds: number) => {
        const figures = samplesIn(health, seconds, now);
        return {
          figures,
          value: rule.when === 'error_rate' ? errorRateOf(figures.samples) : latencyOf(figures.samples, 'p95'),
        };
      };
      const current = figureOver(windowSeconds);
      if (current.value === undefined || current.value <= threshold || current.figures.samples.length === 0) return [];
      if (rule.forSeconds === undefined) {
        return [
          {
            service,
            observed: current.value,
            unit,
            window: windowEvidence(current.figures.from, now, current.figures.samples),
            evidenceEventIds: evidence(current.figures.samples),
          },
        ];
      }
      // Sustained: the samples must cover the whole period, over which the figure breaches too (and still does now).
      if (health.samples[0]!.at > now - rule.forSeconds * 1000) return [];
      const sustained = figureOver(rule.forSeconds);
      if (sustained.value === undefined || sustained.value <= threshold) return [];
      return [
        {
          service,
          observed: sustained.value,
          unit,
          window: windowEvidence(sustained.figures.from, now, sustained.figures.samples),
          evidenceEventIds: evidence(sustained.figures.samples),
        },
      ];
    }
    case 'memory_used_ratio': {
      const observed = latest.memoryUsedRatio;
      if (observed === undefined || observed <= threshold) return [];
      return [{ service, observed, unit: 'ratio', evidenceEventIds: [latest.id] }];
    }
    case 'memory_growth': {
      // Cheap test first (no copy of a long window): most of the time memory has not grown by the threshold.
      const oldest = health.samples[firstAfter(health.samples, now - windowSeconds * 1000)];
      if (
        oldest?.memoryUsedRatio === undefined ||
        latest.memoryUsedRatio === undefined ||
        latest.memoryUsedRatio - oldest.memoryUsedRatio < threshold
      )
        return [];
      const samples = samplesIn(health, windowSeconds, now).samples.filter((s) => s.memoryUsedRatio !== undefined);
      if (samples.length < 3) return [];
      const first = samples[0]!;
      const span = (latest.at - first.at) / 1000;
      const growth = latest.memoryUsedRatio! - first.memoryUsedRatio!;
      const rising = samples.slice(1).filter((s, i) => s.memoryUsedRatio! >= samples[i]!.memoryUsedRatio!).length;
      // A leak grows steadily over most of the window; a spike or a sawtooth does not.
      if (growth < threshold || span < windowSeconds * 0.8 || rising < (samples.length - 1) * 0.8) return [];
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
      return latest.protocolError ? [{ service, observed: 1, unit: 'errors', evidenceEventIds: [latest.id] }] : [];
    case 'circuit_breaker_open_for':
      return latest.openBreakers.flatMap((breaker) => {
        let since = latest;
        for (let i = health.samples.length - 1; i >= 0 && health.samples[i]!.openBreakers.includes(breaker); i -= 1)
          since = health.samples[i]!;
        // Up to the newest sample, as for failing health checks: silence does not keep a breaker open.
        const observed = (latest.at - since.at) / 1000;
        if (observed <= threshold) return [];
        const open = health.samples.filter((s) => s.at >= since.at);
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
      const window = samplesIn(health, windowSeconds, now);
      return [...toolErrorsOf(window.samples)]
        .filter(([, t]) => t.calls > 0 && t.errors / t.calls > threshold)
        .map(([name, t]) => ({
          service,
          observed: t.errors / t.calls,
          unit: 'ratio',
          window: windowEvidence(window.from, now, window.samples),
          evidenceEventIds: t.evidence.slice(-MAX_EVIDENCE),
          feature: { scope: 'tool' as const, target: name },
        }));
    }
    default:
      return [];
  }
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

/**
 * The decision matrix applied to the read models as of `now` (recorded time): every rule that
 * holds, with its figure and evidence, the strongest action first (automatic, then manual, then
 * disabling a feature). Pure: the same read model always gives the same findings.
 */
export function evaluatePolicy(
  policy: RollbackPolicy,
  model: PolicyReadModel,
  now: number,
  scope: EvaluationScope = {},
): Finding[] {
  const services = scope.services ?? Object.keys(model.health.services).sort();
  return Object.entries(policy.rules)
    .flatMap(([name, rule]) => {
      const mode = MODES[rule.action];
      const isMigrationRule = rule.when.startsWith('migration_');
      if (isMigrationRule ? scope.migrationRules === false : scope.healthRules === false) return [];
      const raw = isMigrationRule
        ? migrationFindings(rule, model.migrations, now, scope.migrationId)
        : services.flatMap((service) => healthFindings(rule, service, model.health.services[service], now));
      return raw.map((finding) => ({
        rule: name,
        mode,
        severity: rule.severity ?? DEFAULT_SEVERITY[mode],
        threshold: rule.threshold ?? 0,
        ...finding,
      }));
    })
    .sort((a, b) => PRECEDENCE[a.mode] - PRECEDENCE[b.mode]);
}
