import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePrometheusText, sumOf } from '../../../src/probing/prometheus-text.js';
import { sampleReleaseSchema, type SampleRelease } from './sample-release.js';
import { createSampleServer, type SampleServer } from './sample-server.js';

/** The sample server in this process, on loopback; its tool calls and metrics over real HTTP. */
describe('the sample server: each bad release fails one way', () => {
  let server: SampleServer | undefined;
  afterEach(async () => {
    await new Promise((r) => server?.http.close(r));
  });

  const start = async (behaviour: Partial<SampleRelease>) => {
    server = createSampleServer({ release: 'v2', behaviour: sampleReleaseSchema.parse(behaviour), disabledTools: [] });
    await new Promise<void>((r) => server!.http.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.http.address() as AddressInfo).port}`;
    const call = async (name: string, args: Record<string, unknown>) => {
      const response = await fetch(`${url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }),
      });
      return ((await response.json()) as { result: { isError?: boolean } }).result;
    };
    const metrics = async () => parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
    return { call, metrics };
  };
  const openBreakers = (samples: ReturnType<typeof parsePrometheusText>) =>
    samples.filter((m) => m.name === 'mcp_circuit_breaker_open' && m.value === 1).map((m) => m.labels.tool);

  it("v2.0.0-breaker: refund's breaker opens and stays open; refund answers from its fallback", async () => {
    const { call, metrics } = await start({ failingDownstream: 'refund' });
    const results = [];
    for (let i = 0; i < 6; i += 1) results.push(await call('refund', { orderId: 'o-1', amount: 5 }));
    await call('add', { a: 1, b: 2 });
    expect(results.filter((r) => r.isError)).toEqual([]);
    const scrape = await metrics();
    expect(openBreakers(scrape)).toEqual(['refund']);
    expect(sumOf(scrape, 'mcp_tool_requests_total', { status: 'error' })).toBe(0);
  });

  it('v2.0.0-errors: calls fail, and no circuit breaker opens', async () => {
    const { call, metrics } = await start({ errorRate: 1 });
    for (let i = 0; i < 6; i += 1) expect((await call('add', { a: 1, b: 2 })).isError).toBe(true);
    const scrape = await metrics();
    expect(sumOf(scrape, 'mcp_tool_requests_total', { tool: 'add', status: 'error' })).toBe(6);
    expect(openBreakers(scrape)).toEqual([]);
  });
});

describe('the sample server process', () => {
  it('refuses a half-set push telemetry environment, naming what is missing', async () => {
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    const release = fileURLToPath(new URL('../releases/v1.0.0/release.yaml', import.meta.url));
    const env = { ...process.env, PORT: '0', FAILSAFE_TELEMETRY_SERVICE: 'sample' };
    const { code, stderr } = await new Promise<{ code: unknown; stderr: string }>((resolve) =>
      execFile(process.execPath, ['--import', 'tsx', main, release], { env, timeout: 15_000 }, (error, _out, err) =>
        resolve({ code: error?.code ?? 0, stderr: err }),
      ),
    );
    expect(code).toBe(2);
    expect(stderr).toMatch(/^InvalidPushTelemetryEnv: FAILSAFE_TELEMETRY_BROKERS: .*FAILSAFE_TELEMETRY_TOPIC: /);
  }, 30_000);
});
