import { describe, expect, it } from 'vitest';
import { promqlMetricNames } from './promql-metric-names.js';

describe('the metric names of a PromQL expression', () => {
  it('leave out functions, aggregations and their grouping labels', () => {
    const expr =
      'histogram_quantile(0.95, sum by (le, service) (rate(mcp_request_duration_seconds_bucket[$__rate_interval])))';
    expect(promqlMetricNames(expr)).toEqual(['mcp_request_duration_seconds_bucket']);
    expect(promqlMetricNames('sum without(instance)(rate(a_total[5m])) by (job)')).toEqual(['a_total']);
  });

  it('leave out label matchers, their values and Grafana variables', () => {
    const expr = 'sum(rate(mcp_requests_total{service=~"$service",status="error", method!="x{y}"}[1h]))';
    expect(promqlMetricNames(expr)).toEqual(['mcp_requests_total']);
  });

  it('find both sides of binary operators, with matching clauses and modifiers', () => {
    const expr =
      'process_resident_memory_bytes / on (service, instance) group_left(release) ' +
      'process_memory_limit_bytes > bool 0.9';
    expect(promqlMetricNames(expr)).toEqual(['process_memory_limit_bytes', 'process_resident_memory_bytes']);
    expect(promqlMetricNames('a_seconds_sum offset 5m / a_seconds_count unless b or c and d')).toEqual([
      'a_seconds_count',
      'a_seconds_sum',
      'b',
      'c',
      'd',
    ]);
  });

  it('leave out numbers (scientific, hexadecimal, special) and time()', () => {
    const expr = 'time() - failsafe_drill_last_run_timestamp_seconds > 1e3 * 0x10 or vector(+Inf) or vector(NaN)';
    expect(promqlMetricNames(expr)).toEqual(['failsafe_drill_last_run_timestamp_seconds']);
  });

  it('read names given as a __name__ matcher, and recording rule names with colons', () => {
    expect(promqlMetricNames('{__name__="up", job="x"} + job:requests:rate5m')).toEqual(['job:requests:rate5m', 'up']);
  });

  it('find names inside subqueries and after a space before the parenthesis of a function', () => {
    expect(promqlMetricNames('max_over_time (rate(x_total[5m])[1h:1m]) + count (y)')).toEqual(['x_total', 'y']);
  });
});
