import { z } from 'zod';

/** What a rule watches. Windows and durations are in seconds, ratios from 0 to 1, latency in ms. */
export const ruleKinds = [
  'health_failing_for',
  'error_rate',
  'latency_p95_ms',
  'memory_used_ratio',
  'memory_growth',
  'protocol_error',
  'migration_error_rate',
  'migration_stalled_for',
  'circuit_breaker_open_for',
  'tool_error_rate',
  'alert_firing',
] as const;

const seconds = z.number().int().positive();

const rule = z
  .strictObject({
    when: z.enum(ruleKinds),
    threshold: z.number().nonnegative().optional(),
    windowSeconds: seconds.optional(),
    /** The condition must hold this long before the rule fires ("error rate above 5 % for 5 min"). */
    forSeconds: seconds.optional(),
    action: z.enum(['automatic_rollback', 'manual_rollback', 'disable_feature']),
    severity: z.enum(['P0', 'P1', 'P2', 'P3']).optional(),
    /** For `alert_firing`: the Prometheus alert names (compose/prometheus/alerts.yml) the rule acts on. */
    alerts: z
      .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be an alert name'))
      .min(1)
      .optional(),
  })
  .refine((r) => r.when === 'protocol_error' || r.when === 'alert_firing' || r.threshold !== undefined, {
    path: ['threshold'],
    message: 'is required for this kind of rule',
  })
  .refine((r) => (r.when === 'alert_firing') === (r.alerts !== undefined), {
    path: ['alerts'],
    message: 'names the alerts of an alert_firing rule (and only of one)',
  });

export const rollbackPolicySchema = z.strictObject({
  version: z.literal(1),
  approval: z.strictObject({ validForSeconds: seconds }).default({ validForSeconds: 900 }),
  rules: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'rule names use lower case letters, digits and _'), rule),
});

export type RollbackPolicy = z.infer<typeof rollbackPolicySchema>;
export type PolicyRule = RollbackPolicy['rules'][string];

/**
 * The seeds' decision matrix (000 and 001): automatic rollback on health checks failing for more
 * than 5 min, error rate above 10 %, error rate above 5 % for 5 min, P95 above 5 s, memory above
 * 90 %, a protocol compatibility error, a migration error rate above 10 %; manual rollback for
 * softer degradation (P95 above 2 s), a suspected memory leak, a migration stalled for more than
 * 1 h; disabling the feature for a circuit breaker that stays open or a tool that keeps failing
 * while the service as a whole is healthy (a non-critical feature bug).
 * Alerts from Prometheus (compose/prometheus/alerts.yml), as the seeds' incident procedures start
 * from one: the service down, critical error rate, latency or memory, or errors above 5 % for
 * 5 min roll back automatically; the warnings of degraded performance or memory ask a person.
 */
export const defaultRollbackPolicy: RollbackPolicy = {
  version: 1,
  approval: { validForSeconds: 900 },
  rules: {
    health_check_failures: { when: 'health_failing_for', threshold: 300, action: 'automatic_rollback', severity: 'P0' },
    error_rate_critical: {
      when: 'error_rate',
      threshold: 0.1,
      windowSeconds: 60,
      action: 'automatic_rollback',
      severity: 'P1',
    },
    error_rate_sustained: {
      when: 'error_rate',
      threshold: 0.05,
      windowSeconds: 60,
      forSeconds: 300,
      action: 'automatic_rollback',
      severity: 'P1',
    },
    latency_p95_critical: {
      when: 'latency_p95_ms',
      threshold: 5000,
      windowSeconds: 60,
      action: 'automatic_rollback',
      severity: 'P1',
    },
    memory_critical: { when: 'memory_used_ratio', threshold: 0.9, action: 'automatic_rollback', severity: 'P1' },
    protocol_compatibility: { when: 'protocol_error', action: 'automatic_rollback', severity: 'P1' },
    migration_error_rate: {
      when: 'migration_error_rate',
      threshold: 0.1,
      action: 'automatic_rollback',
      severity: 'P1',
    },
    performance_degradation: {
      when: 'latency_p95_ms',
      threshold: 2000,
      windowSeconds: 300,
      action: 'manual_rollback',
      severity: 'P2',
    },
    memory_leak: {
      when: 'memory_growth',
      threshold: 0.2,
      windowSeconds: 1800,
      action: 'manual_rollback',
      severity: 'P2',
    },
    migration_stalled: { when: 'migration_stalled_for', threshold: 3600, action: 'manual_rollback', severity: 'P2' },
    circuit_breaker_open: {
      when: 'circuit_breaker_open_for',
      threshold: 60,
      action: 'disable_feature',
      severity: 'P3',
    },
    feature_bug: {
      when: 'tool_error_rate',
      threshold: 0.2,
      windowSeconds: 300,
      action: 'disable_feature',
      severity: 'P3',
    },
    alert_service_down: { when: 'alert_firing', alerts: ['ServiceDown'], action: 'automatic_rollback', severity: 'P0' },
    alert_critical: {
      when: 'alert_firing',
      alerts: ['CriticalErrorRate', 'HighErrorRate', 'CriticalLatency', 'CriticalMemoryUsage'],
      action: 'automatic_rollback',
      severity: 'P1',
    },
    alert_degraded: {
      when: 'alert_firing',
      alerts: ['HighLatency', 'HighMemoryUsage', 'HighCpuUsage', 'CriticalCpuUsage'],
      action: 'manual_rollback',
      severity: 'P2',
    },
  },
};

/** The rules that read no health samples at all: they do not make the windows keep any. */
const SAMPLELESS: ReadonlySet<PolicyRule['when']> = new Set([
  'migration_error_rate',
  'migration_stalled_for',
  'alert_firing',
]);

/**
 * How much sample history the health windows must keep for every rule of the policy to be judged:
 * the longest window, and for a rule on how long something has lasted, its threshold too (the
 * samples since it started are its evidence; how long it has lasted is kept apart, uncapped).
 */
export const retainSecondsFor = (policy: RollbackPolicy): number =>
  Math.max(
    600,
    ...Object.values(policy.rules)
      .filter((r) => !SAMPLELESS.has(r.when))
      .map((r) => (r.windowSeconds ?? 60) + (r.forSeconds ?? 0) + (r.when.endsWith('_for') ? (r.threshold ?? 0) : 0)),
  );

/** The rules that read samples' figures (rates, latencies, memory, tools) over a window, not only the newest. */
const FIGURE_WINDOWS: ReadonlySet<PolicyRule['when']> = new Set([
  'error_rate',
  'latency_p95_ms',
  'memory_growth',
  'tool_error_rate',
]);

/**
 * How long the health windows keep every figure of a sample: the longest window a rule reads
 * figures over. The longer retention is for rules that look back only at times, ids and breakers.
 */
export const figureSecondsFor = (policy: RollbackPolicy): number =>
  Math.max(
    0,
    ...Object.values(policy.rules).map((r) =>
      FIGURE_WINDOWS.has(r.when) ? Math.max(r.windowSeconds ?? 60, r.forSeconds ?? 0) : 0,
    ),
  );

/** The P95 thresholds the policy's latency rules compare with: the health windows keep running totals for each. */
export const latencyThresholdsFor = (policy: RollbackPolicy): number[] => [
  ...new Set(Object.values(policy.rules).flatMap((r) => (r.when === 'latency_p95_ms' ? [r.threshold ?? 0] : []))),
];
