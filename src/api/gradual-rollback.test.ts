import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initializeAs, startTraffic } from '../../drills/sample-fleet/traffic.js';
import { ProcessDriver } from '../drivers/process-driver.js';
import { startFrontDoor, type FrontDoor, type Person } from '../http/front-door.fixture.js';

const releasesDir = fileURLToPath(new URL('../../drills/sample-fleet/releases/', import.meta.url));
let door: FrontDoor;

const fleetDir = mkdtempSync(join(tmpdir(), 'failsafe-levels-'));

/** Failsafe serving a fleet of one real sample server (`sample`, not deployed yet), beside seeded services. */
beforeAll(async () => {
  const fleetPath = join(fleetDir, 'fleet.yaml');
  const fleet = `services:\n  sample:\n    driver: process\n    releasesDir: ${releasesDir}\n    port: 0\n`;
  writeFileSync(fleetPath, `${fleet}probe:\n  intervalSeconds: 1\n  timeoutSeconds: 2\n`);
  door = await startFrontDoor(['orders', 'payments'], {}, { fleetPath });
}, 60_000);

afterAll(async () => {
  await door?.stop({ keepData: true });
  // The process driver leaves instances running for the next Failsafe: this one adopts and stops them.
  const stateDir = join(door.dataDir, 'fleet');
  const driver = await ProcessDriver.start({ services: { sample: { releasesDir, port: 0 } }, stateDir });
  await driver.stopAll();
  await driver.close();
  rmSync(door.dataDir, { recursive: true, force: true });
  rmSync(fleetDir, { recursive: true, force: true });
}, 60_000);

/** Test-side responses: the body's JSON is whatever the assertions say it is. */
type Reply = { status: number; json: any };

const call = async (method: 'GET' | 'POST', path: string, as: Person, body?: unknown): Promise<Reply> => {
  const response = await fetch(`${door.url}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${door.tokens[as]}`, 'Content-Type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: await response.json() };
};
const post = (path: string, as: Person, body: unknown = {}) => call('POST', path, as, body);
const status = async (service: string) => (await call('GET', `/services/${service}`, 'vera')).json;

/** Polls until `check` gives a value (anything but undefined or false). */
async function eventually<T>(check: () => Promise<T | undefined | false>, what: string): Promise<T> {
  const deadline = Date.now() + 45_000;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`waited too long for ${what}; log:\n${door.log.slice(-20).join('\n')}`);
    await sleep(250);
  }
}

const health = async (address: string) =>
  (await (await fetch(`${address}/health`)).json()) as { mode: string; tools: number };

describe('gradual rollback through the front door', () => {
  it('disables an agent and puts a service in legacy mode on REST, listed in status with who and when', async () => {
    const before = Date.now();
    const agent = await post('/services/orders/agents/planner/disable', 'alice', { reason: 'planner loops on MCP' });
    expect(agent.status).toBe(201);
    expect(agent.json).toEqual({ service: 'orders', agent: 'planner', disabled: true, changed: true });
    expect((await post('/services/orders/agents/planner/disable', 'alice')).json).toMatchObject({ changed: false });
    const legacy = await post('/services/orders/legacy-mode/enter', 'admin', { reason: 'protocol trouble' });
    expect(legacy.json).toEqual({ service: 'orders', legacyMode: true, changed: true });

    const { service } = await status('orders');
    expect(service).toMatchObject({ disabledAgents: ['planner'], legacyMode: true, disabledTools: [] });
    expect(service.disabledFeatures).toEqual([
      { scope: 'system', by: 'admin', at: expect.any(String), reason: 'protocol trouble' },
      { scope: 'agent', target: 'planner', by: 'alice', at: expect.any(String), reason: 'planner loops on MCP' },
    ]);
    expect(Date.parse(service.disabledFeatures[1].at)).toBeGreaterThanOrEqual(before - 1000);
    const { services } = (await call('GET', '/services', 'vera')).json;
    expect(services.find((s: { service: string }) => s.service === 'orders')).toMatchObject({
      legacyMode: true,
      disabledAgents: ['planner'],
    });

    const enabled = await post('/services/orders/agents/planner/enable', 'alice');
    expect(enabled.json).toMatchObject({ disabled: false, changed: true });
    const left = await post('/services/orders/legacy-mode/leave', 'alice');
    expect(left.json).toMatchObject({ legacyMode: false, changed: true });
    const after = (await status('orders')).service;
    expect(after).toMatchObject({ disabledAgents: [], legacyMode: false, disabledFeatures: [] });
  });

  it('refuses a viewer, an unknown service and an agent name too long, writing nothing', async () => {
    expect((await post('/services/orders/agents/planner/disable', 'vera')).status).toBe(403);
    expect((await post('/services/nope/legacy-mode/enter', 'alice')).status).toBe(404);
    expect((await post(`/services/orders/agents/${'a'.repeat(129)}/disable`, 'alice')).status).toBe(400);
    const prober = await post('/services/orders/agents/failsafe-prober/disable', 'alice');
    expect(prober).toMatchObject({ status: 400, json: { message: expect.stringMatching(/health probe/) } });
    const { events } = (await call('GET', '/events?stream=service-orders&types=FeatureDisabled', 'audrey')).json;
    expect(events.map((e: { data: { scope: string } }) => e.data.scope)).toEqual(['agent', 'system']);
  });

  it('switches the whole fleet to legacy mode and back through MCP, each service with its actor', async () => {
    const client = new Client({ name: 'levels-test', version: '1.0.0' });
    const requestInit = { headers: { Authorization: `Bearer ${door.tokens.alice}` } };
    await client.connect(new StreamableHTTPClientTransport(new URL(door.mcpUrl), { requestInit }));
    try {
      const tool = async (name: string, args: Record<string, unknown> = {}) => {
        const result = await client.callTool({ name, arguments: args });
        if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
        return result.structuredContent as Record<string, any>;
      };
      const entered = await tool('enter_fleet_legacy_mode', { reason: 'MCP incident, fleet-wide' });
      expect(entered.legacyMode).toBe(true);
      expect(entered.services).toEqual(
        expect.arrayContaining([
          { service: 'orders', changed: true },
          { service: 'payments', changed: true },
        ]),
      );
      const { services } = await tool('list_services');
      for (const name of ['orders', 'payments']) {
        expect(services.find((s: { service: string }) => s.service === name)).toMatchObject({
          legacyMode: true,
          disabledFeatures: [{ scope: 'system', by: 'alice', reason: 'MCP incident, fleet-wide' }],
        });
      }
      const again = await tool('enter_fleet_legacy_mode');
      expect(again.services).toEqual(expect.arrayContaining([{ service: 'orders', changed: false }]));
      const left = await tool('leave_fleet_legacy_mode');
      expect(left.services.every((s: { changed: boolean }) => s.changed)).toBe(true);
      const payments = (await tool('service_status', { service: 'payments' })).service;
      expect(payments).toMatchObject({ legacyMode: false, disabledFeatures: [] });
      const names = (await client.listTools()).tools.map((t) => t.name);
      const levels = ['disable_agent', 'enable_agent', 'enter_legacy_mode', 'leave_fleet_legacy_mode'];
      expect(names).toEqual(expect.arrayContaining(levels));
    } finally {
      await client.close();
    }
  });

  it('documents every level in the OpenAPI document', async () => {
    const document = (await (await fetch(`${door.url}/api/v1/openapi.json`)).json()) as { paths: object };
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/services/{service}/agents/{agent}/disable',
        '/api/v1/services/{service}/legacy-mode/enter',
        '/api/v1/legacy-mode/enter',
        '/api/v1/legacy-mode/leave',
      ]),
    );
  });
});

describe('gradual rollback on a real sample server', () => {
  it('applies a disabled agent and legacy mode to the running release, and status shows P50, P95 and P99', async () => {
    const address = door.log.map((line) => /fleet: sample answers on (\S+)/.exec(line)?.[1]).find(Boolean)!;
    expect((await post('/services/sample/deployments', 'alice', { release: 'v1.0.0' })).status).toBe(201);
    await eventually(async () => (await status('sample')).service.status === 'healthy', 'v1.0.0 deployed');

    await post('/services/sample/agents/planner/disable', 'alice', { reason: 'back to its REST client' });
    await eventually(async () => (await initializeAs(address, 'planner')).status === 403, 'planner refused');
    expect((await initializeAs(address, 'picker')).status).toBe(200);

    await post('/services/sample/legacy-mode/enter', 'alice');
    const legacy = await eventually(async () => {
      const now = await health(address);
      return now.mode === 'legacy' && now;
    }, 'legacy mode');
    expect(legacy.tools).toBe(3);

    await post('/services/sample/agents/planner/enable', 'alice');
    await post('/services/sample/legacy-mode/leave', 'alice');
    await eventually(async () => (await health(address)).mode === 'mcp', 'out of legacy mode');
    await eventually(async () => (await initializeAs(address, 'planner')).status === 200, 'planner served again');
    expect(await health(address)).toMatchObject({ mode: 'mcp', tools: 5 });

    const traffic = startTraffic(() => address);
    try {
      const { latencyMs } = await eventually(async () => {
        const now = await status('sample');
        return now.latencyMs.sampleCount >= 2 && now.latencyMs.p99 !== undefined && now;
      }, 'latency percentiles');
      expect(latencyMs.windowSeconds).toBe(60);
      expect(latencyMs.p50).toBeGreaterThan(0);
      expect(latencyMs.p50).toBeLessThanOrEqual(latencyMs.p95);
      expect(latencyMs.p95).toBeLessThanOrEqual(latencyMs.p99);
    } finally {
      await traffic.stop();
    }
  }, 120_000);
});
