import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
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

  const instance = async (behaviour: Partial<SampleRelease> = {}, disabled: string[] = [], dependency?: string) => {
    const sample = createSampleServer({
      release: 'v1',
      behaviour: sampleReleaseSchema.parse(behaviour),
      disabledTools: disabled,
      dependencyUrl: dependency,
    });
    servers.push(sample.http);
    const url = await listen(sample.http);
    return { id: 'i-1', service: 'sample', release: 'v1', url, startedAt: new Date().toISOString() } satisfies Instance;
  };
  /** The checks by kind (health, tools, error_rate), with `time` as the probe tool and all five tools expected. */
  const verify = async (target: Instance, more: Partial<VerificationOptions> = {}) => {
    const defaults = { ...options, probeTool: 'time', expectedTools: ALL_TOOLS };
    const checks = await verifyInstances([target], { ...defaults, ...more });
    return Object.fromEntries(checks.map((c) => [c.name.split(':')[0]!, c]));
  };

  it('never passes on no calls: without traffic and without a probe tool the error rate cannot be judged', async () => {
    const checks = await verify(await instance(), { probeTool: undefined });
    expect(checks.health).toMatchObject({ passed: true, detail: '3 of 3 /health probes answered 200 over 0.3 s' });
    const why = /only 0 tool calls .* set probeTool for the service in the fleet file/;
    expect(checks.error_rate).toMatchObject({ passed: false, detail: expect.stringMatching(why) });
  });

  it('makes its own read-only calls to the probe tool without traffic, and passes on a recovered release', async () => {
    const checks = await verify(await instance());
    expect(Object.values(checks).every((c) => c.passed)).toBe(true);
    expect(checks.error_rate!.detail).toMatch(/^0\.0 % of 10 tool calls failed in 0\.3 s \(10 made by the verifier/);
    expect(checks.tools!.detail).toBe('5 tools listed at each of 3 probes, as expected');
  });

  it('calls no more than organic traffic leaves missing', async () => {
    const target = await instance();
    traffic = startTraffic(() => target.url);
    const okCalls = /mcp_requests_total\{method="tools\/call",status="ok"\} (\d+)/;
    const served = async () => Number(okCalls.exec(await (await fetch(`${target.url}/metrics`)).text())?.[1] ?? 0);
    while ((await served()) < 5) await sleep(50);
    const checks = await verify(target, { windowMs: 1_000, minCalls: 4 });
    expect(checks.error_rate).toMatchObject({ passed: true, detail: expect.stringMatching(/\(0 made by the/) });
  });

  it('judges the error rate over the window, organic calls and its own together', async () => {
    const checks = await verify(await instance({ errorRate: 1 }));
    expect(checks.error_rate).toMatchObject({ passed: false, detail: expect.stringMatching(/^100\.0 % of 10 /) });
  });

  it("expects the release's tools minus those disabled on purpose, and no other", async () => {
    const withoutRefund = await instance({}, ['refund']);
    const expectedTools = ALL_TOOLS.filter((t) => t !== 'refund');
    expect((await verify(withoutRefund, { expectedTools })).tools!.passed).toBe(true);
    const detail = "tools differ from the release's: missing refund; unexpected none";
    expect((await verify(withoutRefund)).tools).toMatchObject({ passed: false, detail });
  });

  it('needs health to hold at every probe of the window, not only at one', async () => {
    // The service's dependency answers its first ping only: /health passes at the first probe, then fails.
    let pings = 0;
    const dependency = createServer((_, res) => res.writeHead((pings += 1) === 1 ? 200 : 503).end('pong'));
    servers.push(dependency);
    const checks = await verify(await instance({}, [], await listen(dependency)), { windowMs: 600 });
    expect(checks.health).toMatchObject({ passed: false, detail: '1 of 3 /health probes answered 200 over 0.6 s' });
  });

  it('fails when no instance runs', async () => {
    const none = { name: 'instances', passed: false, detail: 'no instance is running' };
    expect(await verifyInstances([], options)).toEqual([none]);
  });
});
