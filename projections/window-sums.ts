import type { SamplePoint } from './health-windows.js';

/** A tool's running totals of calls and errors, laid out as the other running totals. */
export interface ToolSums {
  readonly name: string;
  readonly calls: number[];
  readonly errors: number[];
}

/**
 * Running totals beside a service's samples, so that the sum over any window is the difference of
 * two entries (found by binary search on the samples) instead of a pass over the window. Entry
 * `dropped + i` sums the samples before the i-th: the entries of samples that left the front stay
 * (totals stay valid without moving anything) until as many have left as remain, when the totals
 * start again from zero. Counts are whole numbers (the schema says so), so their sums are exact;
 * `rated` sums floating-point rates and is only ever used as a filter.
 */
export interface WindowSums {
  /** The samples' times, entry `dropped + i` for the i-th: searched without touching the samples themselves. */
  readonly times: number[];
  /** Requests and errors of the samples that count both. */
  readonly requests: number[];
  readonly errors: number[];
  /** The weight of the samples that report an error rate, and their rate times that weight. */
  readonly ratedWeight: number[];
  readonly rated: number[];
  /** The weight of the samples that report a P95. */
  readonly timedWeight: number[];
  /** Per latency threshold of the state, the weight of the samples whose P95 is at or under it. */
  readonly atOrUnder: number[][];
  readonly tools: ToolSums[];
  /** Samples dropped off the front since the totals last started from zero (it bounds their rounding). */
  dropped: number;
}

/** How much a sample counts in the window's means and percentiles: its requests, or 1 when it has none. */
export const weightOf = (s: SamplePoint): number => (s.requests && s.requests > 0 ? s.requests : 1);

export const emptySums = (latencyThresholds: readonly number[]): WindowSums => ({
  times: [],
  requests: [0],
  errors: [0],
  ratedWeight: [0],
  rated: [0],
  timedWeight: [0],
  atOrUnder: latencyThresholds.map(() => [0]),
  tools: [],
  dropped: 0,
});

const listsOf = (sums: WindowSums): number[][] => [
  sums.requests,
  sums.errors,
  sums.ratedWeight,
  sums.rated,
  sums.timedWeight,
  ...sums.atOrUnder,
];

const push = (list: number[], value: number) => {
  list.push(list[list.length - 1]! + value);
};

/**
 * Recomputes the totals from the `index`-th sample on: after a sample was appended (one step) or
 * inserted out of order (the steps after it).
 */
export function sumFrom(
  sums: WindowSums,
  samples: readonly SamplePoint[],
  index: number,
  thresholds: readonly number[],
) {
  const kept = sums.dropped + index + 1;
  sums.times.length = kept - 1;
  if (sums.requests.length !== kept) {
    for (const list of listsOf(sums)) list.length = kept;
    for (const tool of sums.tools) {
      tool.calls.length = kept;
      tool.errors.length = kept;
    }
  }
  for (let i = index; i < samples.length; i += 1) {
    const s = samples[i]!;
    sums.times.push(s.at);
    const weight = weightOf(s);
    const counted = s.requests !== undefined && s.errors !== undefined;
    push(sums.requests, counted ? s.requests! : 0);
    push(sums.errors, counted ? s.errors! : 0);
    push(sums.ratedWeight, s.errorRate === undefined ? 0 : weight);
    push(sums.rated, s.errorRate === undefined ? 0 : s.errorRate * weight);
    push(sums.timedWeight, s.p95 === undefined ? 0 : weight);
    for (let t = 0; t < thresholds.length; t += 1) {
      push(sums.atOrUnder[t]!, s.p95 !== undefined && s.p95 <= thresholds[t]! ? weight : 0);
    }
    for (const tool of s.tools ?? []) {
      if (!sums.tools.some((known) => known.name === tool.name)) {
        sums.tools.push({
          name: tool.name,
          calls: new Array<number>(sums.dropped + i + 1).fill(0),
          errors: new Array<number>(sums.dropped + i + 1).fill(0),
        });
      }
    }
    for (const known of sums.tools) {
      let calls = 0;
      let errors = 0;
      for (const tool of s.tools ?? []) {
        if (tool.name !== known.name) continue;
        calls += tool.calls;
        errors += tool.errors;
      }
      push(known.calls, calls);
      push(known.errors, errors);
    }
  }
}

/**
 * Notes that the caller has just dropped the oldest sample. Once as many samples have left as
 * remain, the totals start again from zero (tools no longer seen are forgotten): that bounds the
 * lists' length and the rounding of `rated`, at a cost of one step per sample on average.
 */
export function dropFirst(sums: WindowSums, samples: readonly SamplePoint[], thresholds: readonly number[]) {
  sums.dropped += 1;
  if (sums.dropped < samples.length) return;
  sums.dropped = 0;
  sums.times.length = 0;
  sums.tools.length = 0;
  for (const list of listsOf(sums)) {
    list.length = 1;
    list[0] = 0;
  }
  sumFrom(sums, samples, 0, thresholds);
}

/** The sum of `list` (one of `sums`' lists) over the samples from `from` (inclusive) to `to` (exclusive). */
export const between = (sums: WindowSums, list: readonly number[], from: number, to: number): number =>
  list[sums.dropped + to]! - list[sums.dropped + from]!;

/** The running total of `list` before the sample `to`: every sum over a window ending there is at most this. */
export const upTo = (sums: WindowSums, list: readonly number[], to: number): number => list[sums.dropped + to]!;

/** The position (in the samples) of the first sample taken after `time`, as `firstAfter` finds it. */
export function firstAfterIn(sums: WindowSums, time: number): number {
  const { times, dropped } = sums;
  let low = dropped;
  let high = times.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (times[middle]! > time) high = middle;
    else low = middle + 1;
  }
  return low - dropped;
}
