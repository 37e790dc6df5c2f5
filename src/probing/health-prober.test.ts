import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessDriver } from '../drivers/process-driver.js';
import { collect } from '../event-store/event-store.contract.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { decodeEvent } from '../events/catalogue.js';
import { HealthProber } from './health-prober.js';
import { assertProbeTarget } from './instance-probe.js';

const releasesDir = fileURLToPath(new URL('../../drills/sample-fleet/releases/', import.meta.url));

/** Calls tools through the service's stable address, as its clients would. */
async function traffic(base: string, calls: number, tool = 'add', args: Record<string, unknown> = { a: 1, b: 2 }) {
  const client = new Client({ name: 'traffic', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)));
  for (let i = 0; i < calls; i += 1) await client.callTool({ name: tool, arguments: args });
  await client.close();
}

describe('health prober (real sample servers)', () => {
  let dir: string;
  let store: SqliteEventStore;
  let driver: ProcessDriver;
  let prober: HealthProber;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-prober-'));
    store = SqliteEventStore.open({ path: join(dir, 'events.db') });
    driver = await ProcessDriver.start({
      services: { sample: { releasesDir, port: 0 } },
      stateDir: join(dir, 'state'),
    });
    prober = new HealthProber(store, driver, { services: ['sample'], intervalMs: 60_000 });
    await prober.start();
  }, 60_000);
  afterAll(async () => {
    await prober.stop();
    await driver.stopAll();
    await driver.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const samples = async () =>
    (await collect(store.readStream('health-sample'))).map(decodeEvent).map((e) => e.data as Record<string, unknown>);

  it('records health, the MCP handshake and per-interval figures from /metrics', async () => {
    await driver.deploy('sample', 'v2.0.0-errors');
    expect(await prober.probeAll()).toBe(1);
    await traffic(driver.address('sample'), 40);
    await prober.probeAll();
    const [first, second] = await samples();
    expect(first).toMatchObject({
      service: 'sample',
      release: 'v2.0.0-errors',
      healthy: true,
      mcp: { protocolVersion: '2025-11-25', toolCount: 5 },
    });
    expect(first!.requests).toEqual({ total: 0, errors: 0 });
    const requests = second!.requests as { total: number; errors: number };
    expect(requests.total).toBe(40);
    expect(requests.errors / requests.total).toBeGreaterThan(0.1);
    expect(second!.latencyMs).toMatchObject({ p50: expect.any(Number), p95: expect.any(Number) });
    expect(second!.tools).toEqual([{ name: 'add', calls: 40, errors: requests.errors }]);
    expect(second!.memory).toMatchObject({ usedRatio: expect.any(Number), limitBytes: 512 * 2 ** 20 });
  }, 60_000);

  it('records a protocol break as an MCP error while /health still answers', async () => {
    await driver.deploy('sample', 'v2.0.0-protocol');
    await prober.probeAll();
    const latest = (await samples()).at(-1)!;
    expect(latest).toMatchObject({
      release: 'v2.0.0-protocol',
      healthy: true,
      mcp: { toolCount: 0, error: expect.stringMatching(/inputSchema|object|invalid/i) },
    });
  }, 60_000);

  it('records an instance that died as unhealthy, without an MCP figure', async () => {
    const [instance] = await driver.deploy('sample', 'v1.0.0');
    process.kill(Number(instance!.id.split('-').at(-1)), 'SIGKILL');
    await sleep(300);
    await prober.probeAll();
    const latest = (await samples()).at(-1)!;
    expect(latest).toMatchObject({ release: 'v1.0.0', healthy: false });
    expect(latest.mcp).toBeUndefined();
  }, 60_000);

  it('refuses to probe hosts outside the allow-list', () => {
    expect(() => assertProbeTarget('http://169.254.169.254/latest', ['127.0.0.1'])).toThrow(/ProbeTargetRefused/);
    expect(() => assertProbeTarget('file:///etc/passwd', ['127.0.0.1'])).toThrow(/ProbeTargetRefused/);
    expect(() => assertProbeTarget('http://[::1]:8080/', ['::1'])).not.toThrow();
  });
});
