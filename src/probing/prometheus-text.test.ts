import { describe, expect, it } from 'vitest';
import { histogramQuantile, parsePrometheusText, sumOf } from './prometheus-text.js';

describe('Prometheus text', () => {
  const text = [
    '# HELP mcp_requests_total MCP requests',
    '# TYPE mcp_requests_total counter',
    'mcp_requests_total{method="tools/call",status="ok"} 90',
    'mcp_requests_total{method="tools/call",status="error"} 10',
    'mcp_requests_total{method="initialize",status="ok"} 3 1700000000000',
    'mcp_circuit_breaker_open{tool="re\\"fund"} 1',
    'process_resident_memory_bytes 1.5e8',
    'this is not a metric line',
  ].join('\n');

  it('reads names, labels (with escapes) and values, skipping what it cannot read', () => {
    const samples = parsePrometheusText(text);
    expect(samples).toHaveLength(5);
    expect(samples[3]).toEqual({ name: 'mcp_circuit_breaker_open', labels: { tool: 're"fund' }, value: 1 });
    expect(sumOf(samples, 'mcp_requests_total', { method: 'tools/call' })).toBe(100);
    expect(sumOf(samples, 'mcp_requests_total', { status: 'error' })).toBe(10);
    expect(sumOf(samples, 'process_resident_memory_bytes')).toBe(150_000_000);
  });

  it('estimates quantiles from cumulative buckets like histogram_quantile', () => {
    const buckets = new Map([
      [0.1, 50],
      [0.5, 90],
      [1, 100],
      [Number.POSITIVE_INFINITY, 100],
    ]);
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.1);
    expect(histogramQuantile(0.95, buckets)).toBeCloseTo(0.75);
    expect(histogramQuantile(0.25, buckets)).toBeCloseTo(0.05);
    expect(
      histogramQuantile(
        0.5,
        new Map([
          [1, 0],
          [Number.POSITIVE_INFINITY, 0],
        ]),
      ),
    ).toBeUndefined();
  });
});
