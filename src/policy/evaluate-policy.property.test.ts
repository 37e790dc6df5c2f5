import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  errorRateOf,
  firstAfter,
  healthWindowsProjection,
  latencyOf,
  toolErrorsOf,
  type HealthWindowsState,
  type SamplePoint,
  type ServiceHealth,
} from '../../projections/health-windows.js';
import { activeAlertsProjection } from '../../projections/active-alerts.js';
import { migrationProgressProjection } from '../../projections/migration-progress.js';
import { recordedEvent } from '../../projections/recorded-event.fixture.js';
import type { DomainEvent, EventData, TypedRecordedEvent } from '../events/catalogue.js';
import { evaluatePolicy, type Finding } from './evaluate-policy.js';
import { rollbackDecisionsProjection } from './rollback-decisions.js';
import { serviceStream } from '../domain/streams.js';
import { figureSecondsFor, retainSecondsFor, type PolicyRule, type RollbackPolicy } from './rollback-policy.js';

/**
 * The reference: each figure computed directly from the window's samples, as the policy did before
 * it kept running totals (a copy of the window, then a pass over it, after every sample).
 */
function directFindings(
  rule: PolicyRule,
  health: ServiceHealth,
  now: number,
  everySample: ServiceHealth,
): Omit<Finding, 'rule' | 'mode'>[] {
  const threshold = rule.threshold ?? 0;
  const windowSeconds = rule.windowSeconds ?? 60;
  const latest = health.samples.at(-1);
  if (!latest) return [];
  const iso = (ms: number) => new Date(ms).toISOString();
  const evidence = (samples: readonly SamplePoint[]) => samples.slice(-20).map((s) => s.id);
  const windowOf = (from: number, to: number, samples: readonly SamplePoint[]) => ({
    from: iso(from),
    to: iso(to),
    sampleCount: samples.length,
  });
  const samplesIn = (seconds: number) => {
    const from = now - seconds * 1000;
    return { from, samples: health.samples.slice(firstAfter(health.samples, from), firstAfter(health.samples, now)) };
  };
  const found = (raw: Omit<Finding, 'rule' | 'mode' | 'severity' | 'threshold'>) => ({
    severity: rule.severity!,
    threshold,
    ...raw,
  });
  switch (rule.when) {
    case 'health_failing_for': {
      const since = health.failingSince;
      const observed = since ? (latest.at - since.at) / 1000 : 0;
      if (!since || observed <= threshold) return [];
      const failing = health.samples.filter((s) => s.at >= since.at);
      return [
        found({
          service: '',
          observed,
          unit: 's',
          window: windowOf(since.at, latest.at, failing),
          evidenceEventIds: [since.id, ...evidence(failing.slice(1))],
        }),
      ];
    }
    case 'error_rate':
    case 'latency_p95_ms': {
      const unit = rule.when === 'error_rate' ? 'ratio' : 'ms';
      const figureOver = (seconds: number) => {
        const figures = samplesIn(seconds);
        const value = rule.when === 'error_rate' ? errorRateOf(figures.samples) : latencyOf(figures.samples, 'p95');
        return { figures, value };
      };
      const current = figureOver(windowSeconds);
      if (current.value === undefined || current.value <= threshold || current.figures.samples.length === 0) return [];
      if (rule.forSeconds !== undefined && health.samples[0]!.at > now - rule.forSeconds * 1000) return [];
      const judged = rule.forSeconds === undefined ? current : figureOver(rule.forSeconds);
      if (judged.value === undefined || judged.value <= threshold) return [];
      return [
        found({
          service: '',
          observed: judged.value,
          unit,
          window: windowOf(judged.figures.from, now, judged.figures.samples),
          evidenceEventIds: evidence(judged.figures.samples),
        }),
      ];
    }
    case 'memory_growth': {
      const oldest = health.samples[firstAfter(health.samples, now - windowSeconds * 1000)];
      if (
        oldest?.memoryUsedRatio === undefined ||
        latest.memoryUsedRatio === undefined ||
        latest.memoryUsedRatio - oldest.memoryUsedRatio < threshold
      )
        return [];
      const samples = samplesIn(windowSeconds).samples.filter((s) => s.memoryUsedRatio !== undefined);
      if (samples.length < 3) return [];
      const first = samples[0]!;
      const growth = latest.memoryUsedRatio - first.memoryUsedRatio!;
      const rising = samples.slice(1).filter((s, i) => s.memoryUsedRatio! >= samples[i]!.memoryUsedRatio!).length;
      const span = (latest.at - first.at) / 1000;
      if (growth < threshold || span < windowSeconds * 0.8 || rising < (samples.length - 1) * 0.8) return [];
      return [
        found({
          service: '',
          observed: growth,
          unit: 'ratio',
          window: windowOf(first.at, now, samples),
          evidenceEventIds: evidence(samples),
        }),
      ];
    }
    case 'circuit_breaker_open_for':
      return latest.openBreakers.flatMap((breaker) => {
        // How long it has been open is read over every sample, not only those the windows keep.
        const all = everySample.samples;
        let since = latest;
        for (let i = all.length - 1; i >= 0 && all[i]!.openBreakers.includes(breaker); i -= 1) since = all[i]!;
        const observed = (latest.at - since.at) / 1000;
        if (observed <= threshold) return [];
        const open = health.samples.filter((s) => s.at >= since.at);
        return [
          found({
            service: '',
            observed,
            unit: 's',
            window: windowOf(since.at, latest.at, open),
            evidenceEventIds: evidence(open),
            feature: { scope: 'tool', target: breaker },
          }),
        ];
      });
    case 'tool_error_rate': {
      const window = samplesIn(windowSeconds);
      return [...toolErrorsOf(window.samples)]
        .filter(([, t]) => t.calls > 0 && t.errors / t.calls > threshold)
        .map(([name, t]) =>
          found({
            service: '',
            observed: t.errors / t.calls,
            unit: 'ratio',
            window: windowOf(window.from, now, window.samples),
            evidenceEventIds: t.evidence.slice(-20),
            feature: { scope: 'tool', target: name },
          }),
        );
    }
    default:
      throw new Error(`no direct reference for ${rule.when}`);
  }
}

const base = Date.UTC(2026, 10, 24, 10);
const services = ['alpha', 'beta'];

type Step =
  | { kind: 'sample'; dt: number; data: Omit<EventData<'HealthSampleRecorded'>, 'sampledAt'> }
  | {
      kind: 'other';
      dt: number;
      event: (at: string) => DomainEvent;
    };

const count = (max: number) => fc.integer({ min: 0, max });
/**
 * Whole request counts, errors never more than requests: often none or one (weights of 1, where a
 * share of the weight lands exactly on a P95 threshold), sometimes far beyond a real scrape.
 */
const requests = fc.oneof(
  fc.constantFrom({ total: 0, errors: 0 }, { total: 1, errors: 0 }, { total: 1, errors: 1 }),
  fc
    .tuple(count(40), count(40), fc.constantFrom(1, 1, 1, 1_000_000))
    .map(([errors, more, scale]) => ({ total: (errors + more) * scale, errors: errors * scale })),
);
/** Reported rates: often right at or near the thresholds, where a rounding would tip the decision. */
const errorRate = fc.oneof(
  fc.constantFrom(0, 0.025, 0.05, 0.1, 0.15, 0.3, 0.5, 1),
  fc.double({ min: 0, max: 1, noNaN: true }),
);
const p95 = fc.constantFrom(50, 1999, 2000, 2001, 4999, 5000, 5001, 9000);
const tool = fc
  .tuple(fc.constantFrom('search', 'refund'), count(10), count(10))
  .map(([name, errors, more]) => ({ name, calls: errors + more, errors }));

const sampleStep: fc.Arbitrary<Step> = fc
  .record(
    {
      service: fc.constantFrom(...services),
      release: fc.constantFrom('v1', 'v2'),
      healthy: fc.boolean(),
      requests,
      errorRate,
      latency: p95,
      memory: fc.double({ min: 0, max: 1, noNaN: true }),
      tools: fc.array(tool, { maxLength: 3 }),
      breakers: fc.constantFrom(0, 0, 1).map((open) => (open ? ['ledger'] : [])),
      // Mostly forward at the prober's pace, sometimes a late sample, now and then a long silence.
      dt: fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 1, max: 3 }) },
        { weight: 2, arbitrary: fc.integer({ min: 1, max: 30 }) },
        { weight: 1, arbitrary: fc.integer({ min: -120, max: 0 }) },
        { weight: 1, arbitrary: fc.integer({ min: 100, max: 700 }) },
      ),
    },
    { requiredKeys: ['service', 'healthy', 'dt'] },
  )
  .map(({ dt, latency, memory, breakers, requests, ...d }) => ({
    kind: 'sample' as const,
    dt,
    data: {
      ...d,
      instance: `${d.service}-1`,
      healthLatencyMs: 5,
      ...(requests && { requests }),
      ...(latency !== undefined && { latencyMs: { p50: latency / 2, p95: latency, p99: latency * 2 } }),
      ...(memory !== undefined && { memory: { usedRatio: memory } }),
      ...(breakers && { openCircuitBreakers: breakers }),
    },
  }));

const otherStep: fc.Arbitrary<Step> = fc
  .record({
    service: fc.constantFrom(...services),
    release: fc.constantFrom('v1', 'v2'),
    kind: count(5),
    dt: fc.integer({ min: 0, max: 300 }),
  })
  .map(({ service, release, kind, dt }) => {
    const d = { deploymentId: `d-${release}`, service, release };
    const events = (at: string): DomainEvent[] => [
      { type: 'DeploymentStarted', data: d },
      { type: 'DeploymentHealthy', data: d },
      { type: 'DeploymentFailed', data: { ...d, reason: 'not ready' } },
      { type: 'RollbackCompleted', data: { rollbackId: 'rb-1', service, release } },
      { type: 'DrillFinished', data: { runId: 'run-1', outcome: 'passed', service } },
      { type: 'ClockTicked', data: { at } },
    ];
    return { kind: 'other' as const, dt, event: (at: string) => events(at)[kind]! };
  });

/** The steps as recorded events: times move on by each step's `dt`, a negative one is a late sample. */
function historyOf(steps: readonly Step[]): TypedRecordedEvent[] {
  let clock = 0;
  return steps.map((step) => {
    clock += Math.max(step.dt, 0);
    const seconds = clock + Math.min(step.dt, 0);
    const at = new Date(base + seconds * 1000).toISOString();
    // Memory that mostly grows with time, so that a leak shows now and then.
    const memory = { usedRatio: (seconds % 1800) / 1800 };
    const event =
      step.kind === 'sample'
        ? ({
            type: 'HealthSampleRecorded',
            data: { ...step.data, sampledAt: at, ...(step.data.memory && { memory }) },
          } as DomainEvent)
        : step.event(at);
    return recordedEvent(event, { occurredAt: at });
  });
}

const policyOf = ([errorRate, latency, tools]: [number, number, number]): RollbackPolicy => ({
  version: 1,
  approval: { validForSeconds: 900 },
  rules: {
    errors: { when: 'error_rate', threshold: errorRate, windowSeconds: 60, action: 'automatic_rollback' },
    errors_sustained: {
      when: 'error_rate',
      threshold: errorRate / 2,
      windowSeconds: 30,
      forSeconds: 120,
      action: 'automatic_rollback',
    },
    latency_counted: { when: 'latency_p95_ms', threshold: latency, windowSeconds: 60, action: 'automatic_rollback' },
    latency_uncounted: { when: 'latency_p95_ms', threshold: 3000, windowSeconds: 300, action: 'manual_rollback' },
    tools: { when: 'tool_error_rate', threshold: tools, windowSeconds: 120, action: 'disable_feature' },
    failing: { when: 'health_failing_for', threshold: 30, action: 'automatic_rollback' },
    breaker: { when: 'circuit_breaker_open_for', threshold: 20, action: 'disable_feature' },
    leak: { when: 'memory_growth', threshold: 0.02, windowSeconds: 60, action: 'manual_rollback' },
  },
});

describe('the policy judged from running totals', () => {
  it('finds exactly what a pass over each window finds: rules, figures, windows and evidence', () => {
    const seen = new Map<string, number>();
    let longerThanKept = 0;
    const thresholds = fc.tuple(
      fc.constantFrom(0, 0.05, 0.1, 0.3),
      fc.constantFrom(0, 2000, 5000),
      fc.constantFrom(0, 0.2, 0.5),
    );
    fc.assert(
      fc.property(
        thresholds,
        fc.array(fc.oneof({ weight: 6, arbitrary: sampleStep }, { weight: 1, arbitrary: otherStep }), {
          maxLength: 400,
          size: 'max',
        }),
        (limits, steps) => {
          const policy = policyOf(limits);
          const rules = Object.entries(policy.rules).map(([name, rule]) => ({
            name,
            rule: { ...rule, severity: 'P1' as const },
          }));
          // Totals for the first latency rule's threshold only: the other is judged by a pass over its window.
          const windows = healthWindowsProjection(retainSecondsFor(policy), [limits[1]]);
          const unbounded = healthWindowsProjection(Number.MAX_SAFE_INTEGER / 1000);
          let health: HealthWindowsState = windows.initialState;
          let everySample = unbounded.initialState;
          const migrations = migrationProgressProjection.initialState;
          const alerts = activeAlertsProjection.initialState;
          historyOf(steps).forEach((event, index) => {
            health = windows.apply(health, event);
            everySample = unbounded.apply(everySample, event);
            // Checkpoints store the state as JSON: the totals must survive it.
            if (index % 7 === 6) health = JSON.parse(JSON.stringify(health)) as HealthWindowsState;
            const now = health.asOf;
            for (const { name, rule } of rules) {
              const single = { ...policy, rules: { [name]: rule } };
              const expected = Object.keys(health.services)
                .sort()
                .flatMap((service) =>
                  directFindings(rule, health.services[service]!, now, everySample.services[service]!).map((f) => ({
                    ...f,
                    service,
                  })),
                );
              const actual = evaluatePolicy(single, { health, migrations, alerts }, now).map(
                ({ rule: _, mode: __, ...f }) => f,
              );
              expect(actual).toEqual(expected);
              seen.set(name, (seen.get(name) ?? 0) + actual.length);
              longerThanKept += actual.filter((f) => f.unit === 's' && f.observed > retainSecondsFor(policy)).length;
            }
          });
        },
      ),
      { numRuns: 100 },
    );
    // Every kind of rule was seen holding, so none of the comparisons above was vacuous.
    for (const name of Object.keys(policyOf([0, 0, 0]).rules)) expect(seen.get(name) ?? 0).toBeGreaterThan(0);
    // Some failures and open breakers lasted longer than the samples are kept: their time was not capped.
    expect(longerThanKept).toBeGreaterThan(0);
  });
});

describe('samples kept in outline once no figure window reaches them', () => {
  it('lead to the same findings as whole samples, across checkpoints', () => {
    // Short figure windows and rules that look back much further (health failing, a breaker open):
    // most of the 600 s kept are in outline, and long failures reach into them.
    const policy: RollbackPolicy = {
      version: 1,
      approval: { validForSeconds: 900 },
      rules: {
        ...policyOf([0.1, 2000, 0.2]).rules,
        errors_sustained: {
          when: 'error_rate',
          threshold: 0.05,
          windowSeconds: 10,
          forSeconds: 30,
          action: 'automatic_rollback',
        },
        latency_uncounted: { when: 'latency_p95_ms', threshold: 3000, windowSeconds: 30, action: 'manual_rollback' },
        tools: { when: 'tool_error_rate', threshold: 0.2, windowSeconds: 30, action: 'disable_feature' },
        leak: { when: 'memory_growth', threshold: 0.002, windowSeconds: 30, action: 'manual_rollback' },
        failing: { when: 'health_failing_for', threshold: 10, action: 'automatic_rollback' },
        breaker: { when: 'circuit_breaker_open_for', threshold: 10, action: 'disable_feature' },
      },
    };
    const figureMs = figureSecondsFor(policy) * 1000;
    const whole = healthWindowsProjection(retainSecondsFor(policy), [2000]);
    const outlined = healthWindowsProjection(retainSecondsFor(policy), [2000], figureSecondsFor(policy));
    let reachingBack = 0;
    const migrations = migrationProgressProjection.initialState;
    const alerts = activeAlertsProjection.initialState;
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ weight: 8, arbitrary: sampleStep }, { weight: 1, arbitrary: otherStep }), {
          maxLength: 300,
          size: 'max',
        }),
        (steps) => {
          let expected = whole.initialState;
          let actual = outlined.initialState;
          historyOf(steps).forEach((event, index) => {
            expected = whole.apply(expected, event);
            actual = outlined.apply(actual, event);
            if (index % 7 === 6) actual = JSON.parse(JSON.stringify(actual)) as HealthWindowsState;
            const findings = evaluatePolicy(policy, { health: actual, migrations, alerts }, actual.asOf);
            expect(findings).toEqual(evaluatePolicy(policy, { health: expected, migrations, alerts }, expected.asOf));
            reachingBack += findings.filter(
              (f) => f.window && Date.parse(f.window.from) < actual.asOf - figureMs,
            ).length;
          });
        },
      ),
      { numRuns: 100 },
    );
    // Findings whose evidence reached back into the samples in outline: the comparison was not vacuous.
    expect(reachingBack).toBeGreaterThan(0);
  });
});

/** A tick, at the pace of a clock that strikes between samples, now and then after a silence. */
const tickStep: fc.Arbitrary<Step> = fc
  .oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 5 }) }, { weight: 1, arbitrary: fc.integer({ max: 400 }) })
  .map((dt) => ({
    kind: 'other' as const,
    dt: Math.max(dt, 0),
    event: (at: string) => ({ type: 'ClockTicked', data: { at } }),
  }));
const withTicks = fc.array(
  fc.oneof(
    { weight: 6, arbitrary: sampleStep },
    { weight: 1, arbitrary: otherStep },
    { weight: 3, arbitrary: tickStep },
  ),
  { maxLength: 300, size: 'max' },
);
const limits = fc.tuple(fc.constantFrom(0.05, 0.1, 0.3), fc.constantFrom(2000, 5000), fc.constantFrom(0.2, 0.5));

describe('a tick judging only the services the time can have changed the judgement of', () => {
  it('decides and latches exactly what judging every service at every tick does', () => {
    let tickDecisions = 0;
    let recorded = 0;
    fc.assert(
      fc.property(limits, withTicks, fc.array(fc.nat(12), { minLength: 1 }), (thresholds, steps, delays) => {
        const fold = rollbackDecisionsProjection(policyOf(thresholds));
        const skipping = fold.initialState;
        let full = fold.initialState;
        // Deployments on the service's own stream: the service decider acts only for a service it knows.
        const pending = historyOf(steps).map((event) =>
          event.type === 'HealthSampleRecorded' || !('service' in event.data)
            ? event
            : { ...event, stream: serviceStream(event.data.service!) },
        );
        for (let i = 0; i < pending.length; i += 1) {
          const event = pending[i]!;
          fold.apply(skipping, event);
          // A copy has nothing noted beside it, as a state restored from a checkpoint: its tick judges every service.
          if (event.type === 'ClockTicked') full = structuredClone(full);
          fold.apply(full, event);
          expect(skipping.decisions).toEqual(full.decisions);
          expect(skipping.latched).toEqual(full.latched);
          if (event.type === 'ClockTicked') tickDecisions += full.decisions.length;
          // Half the decisions are recorded, as a process manager would, some only after later events (a slow
          // append): they latch their rule, possibly for a service judged steady meanwhile, and start a rollback.
          const delay = delays[i % delays.length]!;
          if (full.decisions.length === 0 || delay % 2 === 1) continue;
          const decided = full.decisions[0]!.events.map((e) =>
            recordedEvent(e, { occurredAt: event.metadata.occurredAt, stream: full.decisions[0]!.stream }),
          );
          pending.splice(i + 1 + delay, 0, ...decided);
          recorded += 1;
        }
      }),
      { numRuns: 100 },
    );
    // Ticks did decide (rules holding as the time moved), and decisions were recorded: the comparison was not vacuous.
    expect(tickDecisions).toBeGreaterThan(0);
    expect(recorded).toBeGreaterThan(0);
  });

  it('judges at a tick a sustained rule whose period the time alone came to cover', () => {
    // 7 % errors, over the sustained rule's 5 %: at 95 s the samples cover 95 of its 120 s; at 121 s
    // they cover the period, while the 95 s sample is still in its 30 s window.
    // That rule alone: no window of another rule moves at the time its period becomes covered.
    const { errors_sustained } = policyOf([0.1, 5000, 0.5]).rules;
    const fold = rollbackDecisionsProjection({
      version: 1,
      approval: { validForSeconds: 900 },
      rules: { errors_sustained: errors_sustained! },
    });
    const state = fold.initialState;
    const at = (seconds: number) => new Date(base + seconds * 1000).toISOString();
    const deployment = { deploymentId: 'd-1', service: 'alpha', release: 'v1' };
    const sample = (seconds: number) =>
      recordedEvent(
        {
          type: 'HealthSampleRecorded',
          data: {
            service: 'alpha',
            instance: 'alpha-1',
            release: 'v1',
            sampledAt: at(seconds),
            healthy: true,
            healthLatencyMs: 5,
            errorRate: 0.07,
          },
        },
        { occurredAt: at(seconds) },
      );
    const tick = (seconds: number) =>
      recordedEvent({ type: 'ClockTicked', data: { at: at(seconds) } }, { occurredAt: at(seconds) });
    const history = [
      recordedEvent(
        { type: 'DeploymentStarted', data: deployment },
        { stream: serviceStream('alpha'), occurredAt: at(0) },
      ),
      recordedEvent(
        { type: 'DeploymentHealthy', data: deployment },
        { stream: serviceStream('alpha'), occurredAt: at(0) },
      ),
      sample(0),
      sample(95),
      tick(100),
    ];
    for (const event of history) fold.apply(state, event);
    expect(state.decisions).toEqual([]);
    fold.apply(state, tick(121));
    expect(state.decisions.map((d) => d.decided.data.rule)).toEqual(['errors_sustained']);
  });

  it('finds nothing at any time before the one a judgement that found nothing gave, samples unchanged', () => {
    let reused = 0;
    fc.assert(
      fc.property(limits, withTicks, (thresholds, steps) => {
        const policy = policyOf(thresholds);
        const windows = healthWindowsProjection(retainSecondsFor(policy), [thresholds[1]], figureSecondsFor(policy));
        const health = windows.initialState;
        const migrations = migrationProgressProjection.initialState;
        const alerts = activeAlertsProjection.initialState;
        const steady = new Map<string, number>();
        for (const event of historyOf(steps)) {
          windows.apply(health, event);
          const now = health.asOf;
          if (event.type === 'ClockTicked') {
            for (const [service, until] of steady) {
              if (now >= until) continue;
              expect(evaluatePolicy(policy, { health, migrations, alerts }, now, { services: [service] })).toEqual([]);
              reused += 1;
            }
          } else steady.clear();
          // Judged now; a tick keeps what was noted (a judgement is of the samples as they are).
          evaluatePolicy(policy, { health, migrations, alerts }, now, {}, steady);
        }
      }),
      { numRuns: 100 },
    );
    expect(reused).toBeGreaterThan(0);
  });
});
