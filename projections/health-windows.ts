import type { TypedRecordedEvent } from '../src/events/catalogue.js';
import type { Projection } from '../src/runtime/projection.js';
import { advance, eventTime } from './event-time.js';
import { dropFirst, emptySums, sumFrom, weightOf, type WindowSums } from './window-sums.js';

/** What the policy needs of one health sample, kept with the id of the event as evidence. */
export interface SamplePoint {
  readonly id: string;
  readonly at: number;
  readonly healthy: boolean;
  readonly release?: string | undefined;
  readonly requests?: number | undefined;
  readonly errors?: number | undefined;
  readonly errorRate?: number | undefined;
  readonly p50?: number | undefined;
  readonly p95?: number | undefined;
  readonly p99?: number | undefined;
  readonly healthLatencyMs: number;
  readonly memoryUsedRatio?: number | undefined;
  readonly protocolError?: string | undefined;
  readonly openBreakers: readonly string[];
  readonly tools?: readonly { readonly name: string; readonly calls: number; readonly errors: number }[] | undefined;
}

export interface SampleRef {
  readonly at: number;
  readonly id: string;
}

/** A circuit breaker open since the sample `id` at `at`. */
export interface OpenRun extends SampleRef {
  readonly breaker: string;
}

/** The first sample of the breaker's run of open ones, when the newest sample reports it open. */
export const openSinceOf = (health: ServiceHealth, breaker: string): OpenRun | undefined =>
  health.openSince?.find((run) => run.breaker === breaker);

export interface ServiceHealth {
  /** The release the windows are about: samples of any other release are left out. */
  release?: string | undefined;
  /** Ordered by sample time, no older than `retainSeconds` before the newest. */
  samples: SamplePoint[];
  /**
   * The samples before this index are older than every window a rule reads figures over
   * (`figureSeconds` before the newest): they keep only what the rules that look further back read
   * (id, time, health, open breakers), the bulk of a long retention at a fraction of the memory.
   */
  outlined: number;
  /** First unhealthy sample since the last healthy one: the start of the current failure. */
  failingSince?: SampleRef | undefined;
  /**
   * For each circuit breaker open in the newest sample, the first sample of its run of open ones:
   * how long it has been open, however long ago that was (the samples are kept only so far back).
   * A list, not a record keyed by the breaker: its name is the service's (`__proto__`, `toString`).
   */
  openSince?: readonly OpenRun[] | undefined;
  /** While a deployment is under way: the windows of the release it replaces, which still serves. */
  replaced?: ServiceHealth | undefined;
}

export interface HealthWindowsState {
  /** The newest recorded time seen in any event (ms since the epoch). */
  asOf: number;
  /** The P95 thresholds (ms) the running totals count samples at or under, in the order of `atOrUnder`. */
  readonly latencyThresholds: readonly number[];
  readonly services: Record<string, ServiceHealth>;
}

/** Most samples report no open breaker: they share one empty list rather than each keeping its own. */
const NO_BREAKERS: readonly string[] = Object.freeze([]);

export function toPoint(event: Extract<TypedRecordedEvent, { type: 'HealthSampleRecorded' }>): SamplePoint {
  const d = event.data;
  return {
    id: event.id,
    at: eventTime(event),
    healthy: d.healthy,
    release: d.release,
    requests: d.requests?.total,
    errors: d.requests?.errors,
    errorRate: d.errorRate ?? (d.requests && d.requests.total > 0 ? d.requests.errors / d.requests.total : undefined),
    p50: d.latencyMs?.p50,
    p95: d.latencyMs?.p95,
    p99: d.latencyMs?.p99,
    healthLatencyMs: d.healthLatencyMs,
    memoryUsedRatio: d.memory?.usedRatio,
    protocolError: d.mcp?.error,
    openBreakers: d.openCircuitBreakers ?? NO_BREAKERS,
    tools: d.tools,
  };
}

const emptyHealth = (release?: string): ServiceHealth => ({ release, samples: [], outlined: 0 });

/**
 * Running totals beside each service's samples: a window's figures without a pass over the window.
 * They are kept out of the state (a third of a snapshot's or checkpoint's JSON, and derived from
 * the samples): a state read back (a snapshot, a checkpoint, a worker's result, a copy) has them
 * rebuilt here on first use, as they are rebuilt whenever they start again from zero.
 */
const sumsByHealth = new WeakMap<ServiceHealth, WindowSums>();

/** The running totals of `health`'s samples, at the state's latency thresholds. */
export function sumsOf(health: ServiceHealth, thresholds: readonly number[]): WindowSums {
  let sums = sumsByHealth.get(health);
  if (!sums) {
    sums = emptySums(thresholds);
    sumFrom(sums, health.samples, 0, thresholds);
    sumsByHealth.set(health, sums);
  }
  return sums;
}

/** A sample as the windows keep it once no window reads its figures any more. */
const outline = (s: SamplePoint): SamplePoint => ({
  id: s.id,
  at: s.at,
  healthy: s.healthy,
  healthLatencyMs: s.healthLatencyMs,
  openBreakers: s.openBreakers,
});

interface Retention {
  readonly retainMs: number;
  readonly figureMs: number;
}

function add(health: ServiceHealth, point: SamplePoint, retention: Retention, thresholds: readonly number[]) {
  const { retainMs, figureMs } = retention;
  const samples = health.samples;
  const sums = sumsOf(health, thresholds);
  let index = samples.length;
  while (index > 0 && samples[index - 1]!.at > point.at) index -= 1;
  // A late sample older than an outlined one is outlined too.
  const kept = index < health.outlined ? outline(point) : point;
  if (index === samples.length) samples.push(kept);
  else samples.splice(index, 0, kept);
  if (kept !== point) health.outlined += 1;
  // Outlined samples count nothing in the totals they are summed again into: no window reaches them.
  sumFrom(sums, samples, index, thresholds);
  const newest = samples[samples.length - 1]!.at;
  while (samples.length > 0 && samples[0]!.at < newest - retainMs) {
    samples.shift();
    if (health.outlined > 0) health.outlined -= 1;
    dropFirst(sums, samples, thresholds);
  }
  while (health.outlined < samples.length && samples[health.outlined]!.at < newest - figureMs) {
    samples[health.outlined] = outline(samples[health.outlined]!);
    health.outlined += 1;
  }
  if (point.healthy) health.failingSince = undefined;
  else if (!health.failingSince) health.failingSince = { at: point.at, id: point.id };
  trackOpenBreakers(health, point);
}

/**
 * Keeps `openSince` up to date after `point` was added. A new newest sample goes on or ends each
 * breaker's run; a late one can only split a run or start it earlier among the samples kept, so
 * those are searched back from the newest, and a run that reaches back past them started where it
 * was known to start.
 */
function trackOpenBreakers(health: ServiceHealth, point: SamplePoint) {
  const { samples } = health;
  const newest = samples[samples.length - 1]!;
  if (newest.openBreakers.length === 0) {
    health.openSince = undefined;
    return;
  }
  health.openSince = newest.openBreakers.map((breaker): OpenRun => {
    const known = openSinceOf(health, breaker);
    if (newest === point) return known ?? { breaker, at: point.at, id: point.id };
    let first = samples.length - 1;
    while (first > 0 && samples[first - 1]!.openBreakers.includes(breaker)) first -= 1;
    if (first === 0 && known !== undefined && known.at <= samples[0]!.at) return known;
    return { breaker, at: samples[first]!.at, id: samples[first]!.id };
  });
}

/**
 * Recent health samples per service, bounded to `retainSeconds` (the longest window any rule
 * reads), with every figure for the last `figureSeconds` (the longest window a rule reads figures
 * over), in outline before. A new release (deployment started, rollback completed) starts the windows afresh and
 * only its own samples count, so figures of the previous release never count against the next;
 * so does the end of a drill on the service (its samples were taken under its faults).
 */
export function healthWindowsProjection(
  retainSeconds: number,
  latencyThresholds: readonly number[] = [],
  figureSeconds = retainSeconds,
): Projection<HealthWindowsState> {
  const retention: Retention = {
    retainMs: retainSeconds * 1000,
    figureMs: Math.min(figureSeconds, retainSeconds) * 1000,
  };
  return {
    name: 'health-windows',
    version: 7,
    get initialState(): HealthWindowsState {
      return { asOf: 0, latencyThresholds: [...latencyThresholds], services: {} };
    },
    apply(state, event) {
      state.asOf = advance(state.asOf, event);
      // The state's own thresholds, not the options': a checkpoint stays consistent with its totals.
      const thresholds = state.latencyThresholds;
      if (event.type === 'DeploymentStarted') {
        const current = state.services[event.data.service];
        const { replaced: _, ...serving } = current ?? emptyHealth();
        state.services[event.data.service] = { ...emptyHealth(event.data.release), replaced: serving };
        return state;
      }
      if (event.type === 'RollbackCompleted') {
        state.services[event.data.service] = emptyHealth(event.data.release);
        return state;
      }
      // A drill's samples were taken under its faults: they do not judge the service once it has ended.
      if (event.type === 'DrillFinished' && event.data.service) {
        const current = state.services[event.data.service];
        if (current) state.services[event.data.service] = emptyHealth(current.release);
        return state;
      }
      if (event.type === 'DeploymentHealthy' || event.type === 'DeploymentFailed') {
        const current = state.services[event.data.service];
        if (current?.release !== event.data.release) return state;
        // A failed deployment never served (drivers switch only to a ready release):
        // the replaced release's windows go on.
        if (event.type === 'DeploymentFailed') state.services[event.data.service] = current.replaced ?? emptyHealth();
        else current.replaced = undefined;
        return state;
      }
      if (event.type !== 'HealthSampleRecorded') return state;
      const health = (state.services[event.data.service] ??= emptyHealth());
      const point = toPoint(event);
      const release = event.data.release;
      // A probe of the previous release may be recorded after the switch: it must not count against the new one.
      const replaced = health.replaced;
      if (health.release === undefined || release === undefined || release === health.release) {
        add(health, point, retention, thresholds);
      } else if (replaced && (replaced.release === undefined || release === replaced.release)) {
        add(replaced, point, retention, thresholds);
      }
      return state;
    },
  };
}

/** Index of the first sample taken after `time` (samples are ordered by time). */
export function firstAfter(samples: readonly SamplePoint[], time: number): number {
  let low = 0;
  let high = samples.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (samples[middle]!.at > time) high = middle;
    else low = middle + 1;
  }
  return low;
}

const weightedMean = (
  samples: readonly SamplePoint[],
  pick: (s: SamplePoint) => number | undefined,
): number | undefined => {
  let sum = 0;
  let weight = 0;
  for (const s of samples) {
    const value = pick(s);
    if (value === undefined) continue;
    const w = weightOf(s);
    sum += value * w;
    weight += w;
  }
  return weight > 0 ? sum / weight : undefined;
};

/** Errors over requests where samples count requests, else the mean of the reported rates. */
export function errorRateOf(samples: readonly SamplePoint[]): number | undefined {
  let requests = 0;
  let errors = 0;
  for (const s of samples) {
    if (s.requests === undefined || s.errors === undefined) continue;
    requests += s.requests;
    errors += s.errors;
  }
  return requests > 0 ? errors / requests : weightedMean(samples, (s) => s.errorRate);
}

/** Calls and errors per tool over the samples. */
export function toolErrorsOf(
  samples: readonly SamplePoint[],
): Map<string, { calls: number; errors: number; evidence: string[] }> {
  const tools = new Map<string, { calls: number; errors: number; evidence: string[] }>();
  for (const s of samples) {
    for (const tool of s.tools ?? []) {
      const total = tools.get(tool.name) ?? { calls: 0, errors: 0, evidence: [] };
      total.calls += tool.calls;
      total.errors += tool.errors;
      if (tool.errors > 0) total.evidence.push(s.id);
      tools.set(tool.name, total);
    }
  }
  return tools;
}

/** The share of the weight each percentile stays at or under. */
export const QUANTILE = { p50: 0.5, p95: 0.95, p99: 0.99 } as const;
export type Percentile = keyof typeof QUANTILE;
const PERCENTILES = Object.keys(QUANTILE) as Percentile[];

interface Weighted {
  readonly value: number;
  readonly weight: number;
}

/**
 * The smallest value that at least `share` of the total weight stays at or under, found by
 * selection (expected linear time) rather than by sorting the whole window at every evaluation.
 */
function weightedQuantile(points: readonly Weighted[], share: number): number | undefined {
  const target = share * points.reduce((sum, p) => sum + p.weight, 0);
  let candidates = points;
  let below = 0;
  while (candidates.length > 0) {
    const pivot = candidates[candidates.length >>> 1]!.value;
    const lower: Weighted[] = [];
    const higher: Weighted[] = [];
    let lowerWeight = 0;
    let pivotWeight = 0;
    for (const p of candidates) {
      if (p.value < pivot) {
        lower.push(p);
        lowerWeight += p.weight;
      } else if (p.value === pivot) pivotWeight += p.weight;
      else higher.push(p);
    }
    if (below + lowerWeight >= target) candidates = lower;
    else if (below + lowerWeight + pivotWeight >= target) return pivot;
    else {
      below += lowerWeight + pivotWeight;
      candidates = higher;
    }
  }
  return undefined;
}

/**
 * The window's percentiles, each estimated from the scrapes' own percentile weighted by their
 * requests: the smallest scrape percentile that at least that share of the window's requests
 * stayed under. (A mean of percentiles would hide a slow minute behind many fast ones: slow
 * requests are fewer per second, which is exactly when the window's P95 must rise.) One pass over
 * the window gathers every percentile asked for.
 */
export function latenciesOf(
  samples: readonly SamplePoint[],
  percentiles: readonly Percentile[] = PERCENTILES,
): Partial<Record<Percentile, number>> {
  const points = new Map(percentiles.map((p) => [p, [] as Weighted[]]));
  for (const s of samples) {
    const weight = weightOf(s);
    for (const [percentile, list] of points) {
      const value = s[percentile];
      if (value !== undefined) list.push({ value, weight });
    }
  }
  const result: Partial<Record<Percentile, number>> = {};
  for (const [percentile, list] of points) {
    const value = weightedQuantile(list, QUANTILE[percentile]);
    if (value !== undefined) result[percentile] = value;
  }
  return result;
}

export const latencyOf = (samples: readonly SamplePoint[], percentile: Percentile): number | undefined =>
  latenciesOf(samples, [percentile])[percentile];
