import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createSampleServer } from '../../drills/sample-fleet/server/sample-server.js';
import { sampleReleaseSchema, type SampleRelease } from '../../drills/sample-fleet/server/sample-release.js';
import { startTraffic, type Traffic } from '../../drills/sample-fleet/traffic.js';
import type { Instance } from '../drivers/target-driver.js';
import { verifyInstances, type VerificationOptions } from './post-rollback-verification.js';

const ALL_TOOLS = ['add', 'echo', 'lookup_item', 'refund', 'time'];
const options: VerificationOptions = { windowMs: 300, probes: 3, maxErrorRate: 0.05, minCalls: 10 };

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
};

/** The sample MCP server (real HTTP on loopback), as a running instance of `sample`. */
describe('post-rollback verification (a real MCP server)', () => {
  const servers: Server[] = [];
  let traffic: Traffic | undefined;
  afterEach(async () => {
    await traffic?.stop();
    traffic = undefined;
    for (const server of servers.splice(0)) await new Promise((r) => server.close(r));
  });

  const instance = async (behaviour: Partial<SampleRelease> = {}, disabledTools: string[] = [], dependencyUrl?: string): Promise<Instance> => {
    const sample = createSampleServer({ release: 'v1', behaviour: sampleReleaseSchema.parse(behaviour), disabledTools, dependencyUrl });
    servers.push(sample.http);
    const url = await listen(sample.http);
    return { id: 'i-1', service: 'sample', release: 'v1', url, startedAt: new Date().toISOString() };
  };
  const byName = (checks: Awaited<ReturnType<typeof verifyInstances>>) => Object.fromEntries(checks.map((c) => [c.name.split(':')[0]!, c]));

  it('never passes on no calls: without traffic and without a probe tool the error rate cannot be judged', async () => {
    const checks = byName(await verifyInstances([await instance()], { ...options, expectedTools: ALL_TOOLS }));
    expect(checks.health).toMatchObject({ passed: true, detail: '3 of 3 /health probes answered 200 over 0.3 s' });
    expect(checks.error_rate).toMatchObject({ passed: false, detail: expect.stringMatching(/only 0 tool calls .* set probeTool for the service in the fleet file/) });
  });

  it('makes its own read-only calls to the probe tool when there is no traffic, and passes on a recovered release', async () => {
    const checks = await verifyInstances([await instance()], { ...options, probeTool: 'time', expectedTools: ALL_TOOLS });
    expect(checks.every((c) => c.passed)).toBe(true);
    expect(byName(checks).error_rate!.detail).toMatch(/^0\.0 % of 10 tool calls failed in 0\.3 s \(10 made by the verifier/);
    expect(byName(checks).tools!.detail).toBe('5 tools listed at each of 3 probes, as expected');
  });

  it('calls no more than organic traffic leaves missing', async () => {
    const target = await instance();
    traffic = startTraffic(() => target.url);
    const served = async () => Number(/mcp_requests_total\{method="tools\/call",status="ok"\} (\d+)/.exec(await (await fetch(`${target.url}/metrics`)).text())?.[1] ?? 0);
    while ((await served()) < 5) await new Promise((r) => setTimeout(r, 50));
    const checks = byName(await verifyInstances([target], { ...options, windowMs: 1_000, minCalls: 4, probeTool: 'time', expectedTools: ALL_TOOLS }));
    expect(checks.error_rate).toMatchObject({ passed: true, detail: expect.stringMatching(/\(0 made by the verifier/) });
  });

  it('judges the error rate over the window, organic calls and its own together', async () => {
    const checks = byName(await verifyInstances([await instance({ errorRate: 1 })], { ...options, probeTool: 'time' }));
    expect(checks.error_rate).toMatchObject({ passed: false, detail: expect.stringMatching(/^100\.0 % of 10 tool calls failed/) });
  });

  it("expects the release's tools minus those disabled on purpose, and no other", async () => {
    const withoutRefund = await instance({}, ['refund']);
    const expected = ALL_TOOLS.filter((t) => t !== 'refund');
    expect(byName(await verifyInstances([withoutRefund], { ...options, probeTool: 'time', expectedTools: expected })).tools!.passed).toBe(true);
    const missing = byName(await verifyInstances([withoutRefund], { ...options, probeTool: 'time', expectedTools: ALL_TOOLS }));
    expect(missing.tools).toMatchObject({ passed: false, detail: "tools differ from the release's: missing refund; unexpected none" });
  });

  it('needs health to hold at every probe of the window, not only at one', async () => {
    // The service's dependency answers its first ping only: /health passes at the first probe, then fails.
    let pings = 0;
    const dependency = createServer((_, res) => res.writeHead((pings += 1) === 1 ? 200 : 503).end('pong'));
    servers.push(dependency);
    const target = await instance({}, [], await listen(dependency));
    const checks = byName(await verifyInstances([target], { ...options, windowMs: 600, probeTool: 'time', expectedTools: ALL_TOOLS }));
    expect(checks.health).toMatchObject({ passed: false, detail: '1 of 3 /health probes answered 200 over 0.6 s' });
  });

  it('fails when no instance runs', async () => {
    expect(await verifyInstances([], options)).toEqual([{ name: 'instances', passed: false, detail: 'no instance is running' }]);
  });
});
