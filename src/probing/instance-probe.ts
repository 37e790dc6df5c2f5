import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { performance } from 'node:perf_hooks';
import type { Instance } from '../drivers/target-driver.js';
import type { EventData } from '../events/catalogue.js';
import { histogramQuantile, parsePrometheusText, sumOf, type MetricSample } from './prometheus-text.js';

export type HealthSample = EventData<'HealthSampleRecorded'>;

export class ProbeTargetRefused extends Error {
  readonly code = 'PROBE_TARGET_REFUSED';
  constructor(
    readonly url: string,
    allowed: readonly string[],
  ) {
    super(
      `ProbeTargetRefused: ${url} is not on the probe allow-list (${allowed.join(', ')}); ` +
        'add its host to allowedHosts to probe it',
    );
    this.name = 'ProbeTargetRefused';
  }
}

/** Probe URLs come from configuration and drivers: only allowed hosts are ever contacted (no SSRF). */
export function assertProbeTarget(url: string, allowedHosts: readonly string[]): void {
  const { hostname, protocol } = new URL(url);
  if (!['http:', 'https:'].includes(protocol) || !allowedHosts.includes(hostname.replace(/^\[|\]$/g, '')))
    throw new ProbeTargetRefused(url, allowedHosts);
}

const elapsed = (since: number) => Math.round((performance.now() - since) * 100) / 100;

/** A network failure means unreachable; anything else from the MCP exchange is a protocol problem. */
const isNetworkFailure = (error: unknown): boolean =>
  error instanceof TypeError ||
  /ECONNREFUSED|ECONNRESET|fetch failed|timed? ?out|aborted|socket hang up/i.test(
    String((error as Error)?.message ?? error),
  );

/** The MCP client name of the prober's own probes: an agent that must never be disabled. */
export const PROBER_AGENT = 'failsafe-prober';

async function mcpProbe(url: string, timeoutMs: number): Promise<HealthSample['mcp']> {
  const client = new Client({ name: PROBER_AGENT, version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`));
  const started = performance.now();
  let initializeLatencyMs = 0;
  try {
    await client.connect(transport, { timeout: timeoutMs });
    initializeLatencyMs = elapsed(started);
    const { tools } = await client.listTools(undefined, { timeout: timeoutMs });
    return { protocolVersion: transport.protocolVersion ?? 'unknown', toolCount: tools.length, initializeLatencyMs };
  } catch (error) {
    if (isNetworkFailure(error)) return undefined;
    return {
      protocolVersion: transport.protocolVersion ?? 'unknown',
      toolCount: 0,
      initializeLatencyMs: initializeLatencyMs || elapsed(started),
      error: String((error as Error).message ?? error).slice(0, 2000),
    };
  } finally {
    await client.close().catch(() => undefined);
  }
}

/**
 * Counter growth since the previous scrape; a process restart (counter went down) counts from
 * zero, and so does a first scrape: an instance's counters start at zero when it starts.
 */
const delta = (now: number, before: number | undefined) => (before === undefined || now < before ? now : now - before);

function fromMetrics(
  scrape: readonly MetricSample[],
  previous: readonly MetricSample[] | undefined,
): Partial<HealthSample> {
  const out: { -readonly [K in keyof HealthSample]?: HealthSample[K] } = {};
  const calls = { method: 'tools/call' };
  const total = delta(
    sumOf(scrape, 'mcp_requests_total', calls),
    previous && sumOf(previous, 'mcp_requests_total', calls),
  );
  const errors = delta(
    sumOf(scrape, 'mcp_requests_total', { ...calls, status: 'error' }),
    previous && sumOf(previous, 'mcp_requests_total', { ...calls, status: 'error' }),
  );
  out.requests = { total, errors };
  // Latency from the histogram's own growth: a scrape is not one atomic snapshot, so a call that
  // ends mid-scrape may be in the counter but not yet in the histogram (or the other way round).
  const buckets = new Map<number, number>();
  for (const s of scrape.filter(
    (m) => m.name === 'mcp_request_duration_seconds_bucket' && m.labels.method === 'tools/call',
  )) {
    const bound = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    buckets.set(
      bound,
      delta(
        s.value,
        previous?.find((p) => p.name === s.name && p.labels.method === 'tools/call' && p.labels.le === s.labels.le)
          ?.value,
      ),
    );
  }
  const p50 = histogramQuantile(0.5, buckets);
  if (p50 !== undefined) {
    const ms = (q: number) => Math.round(histogramQuantile(q, buckets)! * 1000 * 100) / 100;
    out.latencyMs = { p50: ms(0.5), p95: ms(0.95), p99: ms(0.99) };
  }
  const tools = [
    ...new Set(scrape.filter((m) => m.name === 'mcp_tool_requests_total').map((m) => m.labels.tool!)),
  ].sort();
  const perTool = tools
    .map((name) => ({
      name,
      calls: delta(
        sumOf(scrape, 'mcp_tool_requests_total', { tool: name }),
        previous && sumOf(previous, 'mcp_tool_requests_total', { tool: name }),
      ),
      errors: delta(
        sumOf(scrape, 'mcp_tool_requests_total', { tool: name, status: 'error' }),
        previous && sumOf(previous, 'mcp_tool_requests_total', { tool: name, status: 'error' }),
      ),
    }))
    .filter((t) => t.calls > 0);
  if (perTool.length > 0) out.tools = perTool;
  const rss = sumOf(scrape, 'process_resident_memory_bytes');
  const limit = sumOf(scrape, 'process_memory_limit_bytes');
  if (rss > 0 && limit > 0)
    out.memory = { usedRatio: Math.min(1, rss / limit), usedBytes: Math.round(rss), limitBytes: Math.round(limit) };
  out.openCircuitBreakers = scrape
    .filter((m) => m.name === 'mcp_circuit_breaker_open' && m.value >= 1)
    .map((m) => m.labels.tool!)
    .sort();
  return out;
}

export interface ProbeOutcome {
  readonly sample: HealthSample;
  /** Keep it for the next probe of the same instance: counters are turned into per-interval figures. */
  readonly scrape: readonly MetricSample[] | undefined;
}

/**
 * One probe of one instance: its /health, an MCP initialize plus tools/list (latency, tool count,
 * negotiated protocol version), and a scrape of its /metrics.
 */
export async function probeInstance(
  instance: Instance,
  previous: readonly MetricSample[] | undefined,
  sampledAt: Date,
  timeoutMs: number,
): Promise<ProbeOutcome> {
  const started = performance.now();
  const healthy = await fetch(`${instance.url}/health`, { signal: AbortSignal.timeout(timeoutMs) }).then(
    (r) => r.ok,
    () => false,
  );
  const healthLatencyMs = elapsed(started);
  const mcp = healthy ? await mcpProbe(instance.url, timeoutMs) : undefined;
  // Scraped even when /health fails: a deep health check may fail on a slow dependency while the
  // metrics show what the service's own calls went through.
  const scrape = await fetch(`${instance.url}/metrics`, { signal: AbortSignal.timeout(timeoutMs) })
    .then(async (r) => (r.ok ? parsePrometheusText(await r.text()) : undefined))
    .catch(() => undefined);
  const sample: HealthSample = {
    service: instance.service,
    instance: instance.id,
    release: instance.release,
    sampledAt: sampledAt.toISOString(),
    healthy,
    healthLatencyMs,
    ...(mcp && { mcp }),
    ...(scrape && fromMetrics(scrape, previous)),
  };
  return { sample, scrape };
}
