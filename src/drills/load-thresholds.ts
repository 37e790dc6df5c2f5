import type { DrillFile } from './drill-file.js';

/** k6's thresholds as its options take them: metric → expressions, e.g. `{ http_req_duration: ['p(95)<2000'] }`. */
export type K6Thresholds = Readonly<Record<string, readonly string[]>>;

/**
 * What k6 itself holds a load phase to, from the drill file: before the faults, the steady state's
 * error rate (`steadyState.maxErrorRate`); after them, each `load_after` expectation's P95 and error
 * rate; during the faults nothing, since they are meant to cross them. The error rate is the k6
 * script's `mcp_call_failed` (a call failed at HTTP or in MCP), as the summary reports it.
 */
export function loadThresholds(drill: DrillFile, phase: 'before' | 'during' | 'after'): K6Thresholds {
  if (phase === 'before') return { mcp_call_failed: [`rate<=${drill.steadyState.maxErrorRate}`] };
  if (phase === 'during') return {};
  const after = drill.expectations.flatMap((e) => (e.expect === 'load_after' ? [e] : []));
  if (after.length === 0) return {};
  return {
    http_req_duration: after.map((e) => `p(95)<${e.p95BelowMs}`),
    mcp_call_failed: after.map((e) => `rate<${e.errorRateBelow}`),
  };
}
