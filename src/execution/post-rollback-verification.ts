import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Instance } from '../drivers/target-driver.js';
import type { EventData } from '../events/catalogue.js';
import { parsePrometheusText, sumOf, type MetricSample } from '../probing/prometheus-text.js';

export type VerificationCheck = EventData<'RollbackVerified'>['checks'][number];

export interface VerificationOptions {
  /** How long the service must hold: health and tool list at every probe, the error rate over all of it. */
  readonly windowMs: number;
  /** Probes spread over the window, the first at its start (at least 2). */
  readonly probes: number;
  readonly maxErrorRate: number;
  /** Fewest tool calls the error rate is judged on: fewer never passes. */
  readonly minCalls: number;
  /** A read-only tool needing no arguments, called by the verifier when organic traffic is too thin. */
  readonly probeTool?: string | undefined;
  /** The release's tools minus those disabled on purpose; undefined when the release declares none. */
  readonly expectedTools?: readonly string[] | undefined;
  readonly timeoutMs?: number;
  /** Ends the verification early (Failsafe stopping): it rejects, and nothing is to be recorded. */
  readonly signal?: AbortSignal;
}

interface CallCount {
  calls: number;
  errors: number;
}

interface Round {
  readonly healthy: boolean;
  readonly tools?: readonly string[];
  readonly mcpError?: string;
  readonly scrape?: readonly MetricSample[];
}

const toolCalls = (scrape: readonly MetricSample[], labels: Record<string, string> = {}) =>
  sumOf(scrape, 'mcp_requests_total', { method: 'tools/call', ...labels });

const scrapeOf = (instance: Instance, timeoutMs: number): Promise<readonly MetricSample[] | undefined> =>
  fetch(`${instance.url}/metrics`, { signal: AbortSignal.timeout(timeoutMs) })
    .then(async (r) => (r.ok ? parsePrometheusText(await r.text()) : undefined))
    .catch(() => undefined);

/** One probe: /health, an MCP session listing the tools and making `calls` probe calls, then /metrics. */
async function probe(instance: Instance, calls: number, options: VerificationOptions, own: CallCount): Promise<Round> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const healthy = await fetch(`${instance.url}/health`, { signal: AbortSignal.timeout(timeoutMs) }).then(
    (r) => r.ok,
    () => false,
  );
  const client = new Client({ name: 'failsafe-verifier', version: '1' });
  let tools: string[] | undefined;
  let mcpError: string | undefined;
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(`${instance.url}/mcp`)), { timeout: timeoutMs });
    tools = (await client.listTools(undefined, { timeout: timeoutMs })).tools.map((t) => t.name).sort();
    const tool = options.probeTool;
    for (let i = 0; tool && tools.includes(tool) && i < calls; i += 1) {
      own.calls += 1;
      const failed = await client.callTool({ name: tool, arguments: {} }, undefined, { timeout: timeoutMs }).then(
        (r) => r.isError === true,
        () => true,
      );
      if (failed) own.errors += 1;
    }
  } catch (error) {
    mcpError = String((error as Error).message ?? error).slice(0, 300);
  } finally {
    await client.close().catch(() => undefined);
  }
  const scrape = await scrapeOf(instance, timeoutMs);
  return { healthy, ...(tools && { tools }), ...(mcpError && { mcpError }), ...(scrape && { scrape }) };
}

function toolListCheck(id: string, rounds: readonly Round[], expected?: readonly string[]): VerificationCheck {
  const name = `tools:${id}`;
  const broken = rounds.find((r) => r.mcpError !== undefined || r.tools === undefined);
  if (broken) return { name, passed: false, detail: `MCP error: ${broken.mcpError ?? 'no tool list'}` };
  if (!expected) {
    const count = rounds.at(-1)!.tools!.length;
    const detail = `${count} tools listed; the release declares no expected tools (tools: in its release.yaml)`;
    return { name, passed: count > 0, detail };
  }
  const want = [...expected].sort();
  const differing = rounds.find((r) => r.tools!.join() !== want.join());
  const listed = `${want.length} tools listed at each of ${rounds.length} probes, as expected`;
  if (!differing) return { name, passed: true, detail: listed };
  const missing = want.filter((t) => !differing.tools!.includes(t));
  const unexpected = differing.tools!.filter((t) => !want.includes(t));
  const detail =
    `tools differ from the release's: missing ${missing.join(', ') || 'none'}; ` +
    `unexpected ${unexpected.join(', ') || 'none'}`;
  return { name, passed: false, detail };
}

async function verifyInstance(instance: Instance, options: VerificationOptions): Promise<VerificationCheck[]> {
  const probes = Math.max(2, options.probes);
  const own = { calls: 0, errors: 0 };
  const rounds: Round[] = [await probe(instance, 0, options, own)];
  const first = rounds[0]!.scrape;
  // Tool calls over the window: the instance's own counters when it has them (organic traffic and
  // the verifier's calls), else the verifier's calls alone.
  const served = (last = rounds.at(-1)!.scrape) => {
    if (!first || !last) return own;
    const grown = (labels?: Record<string, string>) => Math.max(0, toolCalls(last, labels) - toolCalls(first, labels));
    return { calls: grown(), errors: grown({ status: 'error' }) };
  };
  for (let i = 1; i < probes; i += 1) {
    await sleep(options.windowMs / (probes - 1), undefined, { signal: options.signal });
    // Calls only where organic traffic falls behind the pace the minimum asks for.
    const sofar = served(first && (await scrapeOf(instance, options.timeoutMs ?? 5_000))).calls;
    const calls = Math.max(0, Math.ceil((options.minCalls * i) / (probes - 1)) - sofar);
    rounds.push(await probe(instance, calls, options, own));
  }
  const id = instance.id;
  const healthy = rounds.filter((r) => r.healthy).length;
  const { calls, errors } = served();
  const rate = calls > 0 ? errors / calls : 0;
  const window = `${(options.windowMs / 1000).toFixed(1)} s`;
  const tooFew = calls < options.minCalls;
  const errorDetail = tooFew
    ? `only ${calls} tool calls in ${window}, fewer than the ${options.minCalls} needed to judge the error rate` +
      (options.probeTool
        ? ` (the probe tool ${options.probeTool} could not be called)`
        : '; set probeTool for the service in the fleet file')
    : `${(rate * 100).toFixed(1)} % of ${calls} tool calls failed in ${window} ` +
      `(${own.calls} made by the verifier; limit ${options.maxErrorRate * 100} %)`;
  return [
    {
      name: `health:${id}`,
      passed: healthy === rounds.length,
      detail: `${healthy} of ${rounds.length} /health probes answered 200 over ${window}`,
    },
    toolListCheck(id, rounds, options.expectedTools),
    { name: `error_rate:${id}`, passed: !tooFew && rate <= options.maxErrorRate, detail: errorDetail },
  ];
}

/**
 * The seeds' post-rollback verification, for every instance, held over a window rather than seen
 * once: /health answers at every probe, the MCP handshake lists exactly the release's tools
 * (minus those disabled on purpose) at every probe, and the error rate over the window is under
 * the threshold, judged on at least `minCalls` tool calls — read-only probe calls made up by the
 * verifier when there is too little traffic, so that "no calls" never passes.
 */
export async function verifyInstances(
  instances: readonly Instance[],
  options: VerificationOptions,
): Promise<VerificationCheck[]> {
  options.signal?.throwIfAborted();
  if (instances.length === 0) return [{ name: 'instances', passed: false, detail: 'no instance is running' }];
  return (await Promise.all(instances.map((instance) => verifyInstance(instance, options)))).flat();
}
