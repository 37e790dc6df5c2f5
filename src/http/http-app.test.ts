import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operations } from '../api/operations.js';
import { hashToken, newToken } from '../auth/tokens.js';
import { startFrontDoor, type FrontDoor, type Person } from './front-door.fixture.js';
import { setTimeout as sleep } from 'node:timers/promises';

const SERVICE = 'orders';
let door: FrontDoor;

beforeAll(async () => {
  door = await startFrontDoor([SERVICE]);
}, 60_000);
afterAll(async () => {
  await door?.stop();
});

/** Test-side responses: the body's JSON is whatever the assertions say it is. */
type JsonResponse = Omit<Response, 'json'> & { json(): Promise<any> };

const api = (path: string, init: RequestInit & { as?: Person } = {}): Promise<JsonResponse> => {
  const { as, headers, ...rest } = init;
  return fetch(`${door.url}${path}`, {
    ...rest,
    headers: {
      ...(as && { Authorization: `Bearer ${door.tokens[as]}` }),
      'Content-Type': 'application/json',
      ...headers,
    },
  });
};
const post = (path: string, as: Person, body: unknown) => api(path, { method: 'POST', as, body: JSON.stringify(body) });

/** A raw JSON-RPC POST to the MCP endpoint, as a 2025-era client sends it. */
const rpc = (body: string, headers: Record<string, string> = {}, as: Person = 'admin'): Promise<JsonResponse> =>
  fetch(door.mcpUrl, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${door.tokens[as]}`,
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': '2025-11-25',
      ...headers,
    },
    body,
  });

describe('the REST API', () => {
  it('answers each operation on its route, recording the token name as the actor', async () => {
    const list = await api('/api/v1/services', { as: 'vera' });
    expect(list.status).toBe(200);
    expect((await list.json()).services).toEqual(
      expect.arrayContaining([expect.objectContaining({ service: SERVICE, currentRelease: 'v1.1.0' })]),
    );
    const deployed = await post(`/api/v1/services/${SERVICE}/tools/search/disable`, 'alice', { reason: 'slow' });
    expect(deployed.status).toBe(201);
    const events = await (
      await api(`/api/v1/events?stream=service-${SERVICE}&types=FeatureDisabled`, { as: 'audrey' })
    ).json();
    expect(events.events).toEqual([expect.objectContaining({ metadata: expect.objectContaining({ actor: 'alice' }) })]);
  });

  it('asks for a scale on REST, recorded with who asked; refuses a count out of range or a viewer', async () => {
    const asked = await post(`/api/v1/services/${SERVICE}/scale`, 'alice', { replicas: 3, reason: 'peak' });
    expect(asked.status).toBe(201);
    const { scaleId } = await asked.json();
    expect(scaleId).toMatch(/^s-/);
    const events = await (
      await api(`/api/v1/events?stream=service-${SERVICE}&types=ScaleRequested`, { as: 'audrey' })
    ).json();
    expect(events.events).toEqual([
      expect.objectContaining({
        data: { service: SERVICE, scaleId, replicas: 3, reason: 'peak' },
        metadata: expect.objectContaining({ actor: 'alice' }),
      }),
    ]);
    const tooMany = await post(`/api/v1/services/${SERVICE}/scale`, 'alice', { replicas: 5000 });
    expect(tooMany.status).toBe(400);
    expect((await tooMany.json()).problems).toEqual([expect.stringMatching(/^replicas: /)]);
    expect((await post(`/api/v1/services/${SERVICE}/scale`, 'vera', { replicas: 1 })).status).toBe(403);
  });

  it('pages through events with a cursor, without gaps or repeats', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await (
        await api(`/api/v1/events?limit=3${cursor ? `&after=${cursor}` : ''}`, { as: 'audrey' })
      ).json();
      seen.push(...page.events.map((e: { position: string }) => e.position));
      cursor = page.nextCursor;
    } while (cursor);
    const all = await (await api('/api/v1/events?limit=1000', { as: 'audrey' })).json();
    expect(seen).toEqual(all.events.map((e: { position: string }) => e.position));
    expect(seen.length).toBeGreaterThan(6);
  });

  it('tails events live as server-sent events', async () => {
    const response = await api('/api/v1/events/live', { as: 'audrey', headers: { Accept: 'text/event-stream' } });
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = response.body!.getReader();
    await post(`/api/v1/services/${SERVICE}/tools/lookup/disable`, 'alice', {});
    let text = '';
    while (!text.includes('FeatureDisabled')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toMatch(/^id: \d+$/m);
    expect(text).toMatch(/event: FeatureDisabled/);
    await reader.cancel();
  });

  it('describes itself in an OpenAPI document generated from the request schemas', async () => {
    const document = await (await api('/api/v1/openapi.json')).json();
    expect(document.openapi).toBe('3.1.0');
    const ids = Object.values(document.paths as Record<string, Record<string, { operationId: string }>>).flatMap((p) =>
      Object.values(p).map((o) => o.operationId),
    );
    expect(ids.sort()).toEqual([...operations.map((o) => o.name), 'tail_events'].sort());
    const rollback = document.paths['/api/v1/services/{service}/rollbacks'].post;
    expect(rollback.requestBody.content['application/json'].schema.required).toEqual(['reason']);
    expect(rollback.parameters).toEqual([expect.objectContaining({ name: 'service', in: 'path', required: true })]);
  });

  it('refuses bad input with the fields at fault, writing nothing', async () => {
    const before = (await (await api('/api/v1/events?limit=1000', { as: 'audrey' })).json()).events.length;
    const wrongType = await post(`/api/v1/services/${SERVICE}/rollbacks`, 'alice', { reason: 42 });
    expect(wrongType.status).toBe(400);
    expect((await wrongType.json()).problems).toEqual([expect.stringMatching(/^reason: /)]);
    const notJson = await api(`/api/v1/services/${SERVICE}/rollbacks`, {
      method: 'POST',
      as: 'alice',
      body: '{"reason": ',
    });
    expect(notJson.status).toBe(400);
    expect((await notJson.json()).message).toMatch(/not JSON/);
    const clash = await post(`/api/v1/services/${SERVICE}/rollbacks`, 'alice', { service: 'other', reason: 'x' });
    expect(clash.status).toBe(400);
    expect((await clash.json()).message).toMatch(/service is "orders" in the path but "other" in the body/);
    const badLimit = await api('/api/v1/events?limit=0', { as: 'audrey' });
    expect(badLimit.status).toBe(400);
    const unknown = await api('/api/v1/services/nope', { as: 'vera' });
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).message).toMatch(/no service "nope"/);
    expect((await (await api('/api/v1/events?limit=1000', { as: 'audrey' })).json()).events.length).toBe(before);
  });

  it('refuses a replayed or self-given approval with 409', async () => {
    const requested = await (
      await post(`/api/v1/services/${SERVICE}/rollbacks`, 'admin', { reason: 'bad release' })
    ).json();
    const self = await post(`/api/v1/services/${SERVICE}/rollbacks/${requested.rollbackId}/approval`, 'admin', {});
    expect(self.status).toBe(409);
    expect((await self.json()).message).toMatch(/second-identity-approval/);
    expect(
      (await post(`/api/v1/services/${SERVICE}/rollbacks/${requested.rollbackId}/approval`, 'bob', {})).status,
    ).toBe(201);
    const replayed = await post(`/api/v1/services/${SERVICE}/rollbacks/${requested.rollbackId}/approval`, 'bob', {});
    expect(replayed.status).toBe(409);
  });

  it('refuses to deploy or roll back an unregistered service (writing nothing) until it is registered', async () => {
    const count = async () => (await (await api('/api/v1/events?limit=1000', { as: 'audrey' })).json()).events.length;
    const before = await count();
    const typo = await post('/api/v1/services/ordrs/deployments', 'alice', { release: 'v2.0.0' });
    expect(typo.status).toBe(404);
    expect((await typo.json()).message).toMatch(
      /no service "ordrs" is registered.*register_service \(POST \/api\/v1\/services\)/,
    );
    expect((await post('/api/v1/services/ordrs/rollbacks', 'alice', { reason: 'typo' })).status).toBe(404);
    expect(await count()).toBe(before);
    expect(
      (await api('/api/v1/services', { as: 'vera' }).then((r) => r.json())).services.map(
        (s: { service: string }) => s.service,
      ),
    ).not.toContain('ordrs');

    const registered = await post('/api/v1/services', 'alice', { service: 'billing', reason: 'new service' });
    expect(registered.status).toBe(201);
    expect(await registered.json()).toEqual({ service: 'billing', registered: true, changed: true });
    expect(await (await post('/api/v1/services', 'alice', { service: 'billing' })).json()).toMatchObject({
      changed: false,
    });
    const neverDeployed = await post('/api/v1/services/billing/rollbacks', 'alice', { reason: 'nothing yet' });
    expect(neverDeployed.status).toBe(409);
    expect((await neverDeployed.json()).message).toMatch(/nothing-to-roll-back/);
    expect((await post('/api/v1/services/billing/deployments', 'alice', { release: 'v1.0.0' })).status).toBe(201);
  });

  it('shows a deployment request no executor started, since when, and lets an operator cancel it', async () => {
    await post('/api/v1/services', 'alice', { service: 'shipping' });
    const before = Date.now();
    const { deploymentId } = await (
      await post('/api/v1/services/shipping/deployments', 'alice', { release: 'v1.0.0' })
    ).json();
    const waiting = (await (await api('/api/v1/services/shipping', { as: 'vera' })).json()).service.waiting;
    expect(waiting).toMatchObject({
      kind: 'deployment',
      id: deploymentId,
      release: 'v1.0.0',
      waitingFor: expect.stringMatching(/failsafe serve --fleet/),
    });
    expect(Date.parse(waiting.since)).toBeGreaterThanOrEqual(before - 1000);
    const listed = (await (await api('/api/v1/services', { as: 'vera' })).json()).services.find(
      (v: { service: string }) => v.service === 'shipping',
    );
    expect(listed.waiting.id).toBe(deploymentId);

    expect((await post(`/api/v1/services/shipping/deployments/${deploymentId}/cancel`, 'vera', {})).status).toBe(403);
    const cancelled = await post(`/api/v1/services/shipping/deployments/${deploymentId}/cancel`, 'alice', {
      reason: 'wrong release',
    });
    expect(cancelled.status).toBe(201);
    expect(await cancelled.json()).toEqual({
      deploymentId,
      service: 'shipping',
      release: 'v1.0.0',
      status: 'cancelled',
      cancelledBy: 'alice',
    });
    const after = (await (await api('/api/v1/services/shipping', { as: 'vera' })).json()).service;
    expect(after.waiting).toBeUndefined();
    expect(after.deployment).toMatchObject({ id: deploymentId, status: 'cancelled' });
    const history = (await (await api('/api/v1/services/shipping/deployments', { as: 'vera' })).json()).deployments;
    expect(history).toEqual([expect.objectContaining({ deploymentId, status: 'cancelled' })]);
    const again = await post(`/api/v1/services/shipping/deployments/${deploymentId}/cancel`, 'alice', {});
    expect(again.status).toBe(409);
    expect((await again.json()).message).toMatch(/is cancelled, expected requested/);
    const events = await (
      await api('/api/v1/events?stream=service-shipping&types=DeploymentCancelled', { as: 'audrey' })
    ).json();
    expect(events.events).toEqual([
      expect.objectContaining({
        data: expect.objectContaining({ reason: 'wrong release' }),
        metadata: expect.objectContaining({ actor: 'alice' }),
      }),
    ]);
  });
});

describe('authentication and authorization', () => {
  it('needs a known bearer token on /api/v1 and the MCP endpoint', async () => {
    for (const url of [`${door.url}/api/v1/services`, door.mcpUrl]) {
      const missing = await fetch(url, { method: url.endsWith('/mcp') ? 'POST' : 'GET' });
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const wrong: JsonResponse = await fetch(url, { headers: { Authorization: 'Bearer fs_not-a-token' } });
      expect(wrong.status).toBe(401);
      expect((await wrong.json()).message).toMatch(/not known/);
    }
  });

  it("checks the role's permission on every route", async () => {
    const forbidden = await post(`/api/v1/services/${SERVICE}/deployments`, 'vera', { release: 'v2.0.0' });
    expect(forbidden.status).toBe(403);
    expect((await forbidden.json()).message).toBe(
      'Forbidden: vera (role viewer) may not operate; this needs a token with role operator or admin',
    );
    expect((await api('/api/v1/events', { as: 'alice' })).status).toBe(403);
    expect((await api('/api/v1/events', { as: 'audrey' })).status).toBe(200);
  });

  it('leaves /health, /ready, /metrics and the OpenAPI document open', async () => {
    for (const path of ['/health', '/ready', '/metrics', '/api/v1/openapi.json'])
      expect((await api(path)).status, path).toBe(200);
    expect(await (await api('/ready')).json()).toMatchObject({ status: 'ready', lag: { 'service-state': 0 } });
  });
});

describe('the MCP endpoint at the HTTP level', () => {
  it('answers malformed JSON-RPC with a parse error, not a crash', async () => {
    const response = await rpc('{"jsonrpc": "2.0", "method": ');
    expect(response.status).toBe(400);
    expect((await response.json()).error.code).toBe(-32700);
    const notRpc = await rpc(JSON.stringify({ hello: 'world' }));
    expect(notRpc.status).toBe(400);
  });

  it('refuses a 2026-07-28 request that lacks its required headers', async () => {
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 't', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: meta } });
    const complete = await rpc(body, { 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'tools/list' });
    expect(complete.status).toBe(200);
    const missing = await rpc(body, { 'MCP-Protocol-Version': '2026-07-28' });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(await missing.json())).toMatch(/Mcp-Method/i);
  });

  it('rejects a foreign Host or Origin (DNS rebinding) on every route', async () => {
    const { request } = await import('node:http');
    const status = (path: string, headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const url = new URL(path, door.url);
        request({ host: url.hostname, port: url.port, path: url.pathname, headers }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        })
          .on('error', reject)
          .end();
      });
    for (const path of ['/health', '/api/v1/services', '/mcp']) {
      expect(await status(path, { Host: 'evil.example.com' }), path).toBe(403);
      expect(await status(path, { Host: 'localhost', Origin: 'https://evil.example.com' }), path).toBe(403);
    }
    expect(await status('/health', { Host: 'localhost', Origin: 'http://localhost:3000' })).toBe(200);
  });

  it('refuses a body over the size limit with 413', async () => {
    const huge = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { padding: 'x'.repeat(1_100_000) } });
    expect((await rpc(huge)).status).toBe(413);
    expect(
      (await post(`/api/v1/services/${SERVICE}/rollbacks`, 'alice', { reason: 'x'.repeat(1_100_000) })).status,
    ).toBe(413);
  });
});

describe('metrics', () => {
  it('counts MCP requests, tool calls and rollbacks under the seeds’ names, and passes promtool', async () => {
    await rpc(
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_services', arguments: {} } }),
    );
    await post(`/api/v1/services/${SERVICE}/rollbacks`, 'alice', { reason: 'for the counter' });
    const scrape = await (await api('/metrics')).text();
    expect(scrape).toMatch(/^mcp_requests_total\{method="tools\/call",status="200"\} [1-9]/m);
    expect(scrape).toMatch(/^mcp_request_duration_seconds_bucket\{le="\+Inf",method="tools\/call"\} [1-9]/m);
    expect(scrape).toMatch(/^mcp_tool_requests_total\{tool_name="list_services",status="ok"\} [1-9]/m);
    expect(scrape).toMatch(/^failsafe_event_store_append_duration_seconds_count\{outcome="ok"\} [1-9]/m);
    expect(scrape).toMatch(/^failsafe_projection_lag_events\{projection="service-state"\} \d+/m);
    await expect
      .poll(
        async () =>
          (await (await api('/metrics')).text()).match(
            /^mcp_rollbacks_triggered_total\{reason="manual_request",mode="manual"\} ([1-9]\d*)/m,
          )?.[1],
      )
      .toBeDefined();

    let promtool: string | undefined;
    try {
      promtool = execFileSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).trim();
    } catch {
      if (process.env.CI === 'true')
        throw new Error('promtool is missing: run scripts/provision.sh (Debian package prometheus)');
      console.warn('promtool not installed (scripts/provision.sh installs it): the scrape was not checked by it');
      return;
    }
    // promtool prints lint findings and exits non-zero on any; execFileSync throws with its output.
    expect(execFileSync(promtool, ['check', 'metrics'], { input: scrape, encoding: 'utf8' })).toBe('');
  });
});

describe('rate limits', () => {
  let limited: FrontDoor;
  beforeAll(async () => {
    limited = await startFrontDoor([], {}, { rateLimit: { perMinute: 6, burst: 3 } });
  }, 60_000);
  afterAll(async () => {
    await limited?.stop();
  });

  it('turns away a token over its limit with 429 and Retry-After, leaving other tokens alone', async () => {
    const call = (as: Person): Promise<JsonResponse> =>
      fetch(`${limited.url}/api/v1/services`, { headers: { Authorization: `Bearer ${limited.tokens[as]}` } });
    for (let i = 0; i < 3; i += 1) expect((await call('vera')).status).toBe(200);
    const refused = await call('vera');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await refused.json()).message).toMatch(/RateLimited: vera/);
    expect((await call('alice')).status).toBe(200);
  });

  it('limits callers without a valid token by their address', async () => {
    const guess = (): Promise<JsonResponse> =>
      fetch(`${limited.url}/api/v1/services`, { headers: { Authorization: 'Bearer fs_guess' } });
    for (let i = 0; i < 3; i += 1) expect((await guess()).status).toBe(401);
    const refused = await guess();
    expect(refused.status).toBe(429);
    expect((await refused.json()).message).toMatch(/RateLimited: address:/);
    expect(
      (await fetch(`${limited.url}/api/v1/services`, { headers: { Authorization: `Bearer ${limited.tokens.bob}` } }))
        .status,
    ).toBe(200);
  });
});

describe('token expiry', () => {
  it('refuses a token past its expiresAt with a 401 that says so, on every request', async () => {
    const token = newToken();
    const soon = await startFrontDoor(
      [],
      {},
      {
        tokens: [
          {
            name: 'eve',
            role: 'viewer',
            sha256: hashToken(token),
            expiresAt: new Date(Date.now() + 1500).toISOString(),
          },
        ],
      },
    );
    try {
      const call = (): Promise<JsonResponse> =>
        fetch(`${soon.url}/api/v1/services`, { headers: { Authorization: `Bearer ${token}` } });
      expect((await call()).status).toBe(200);
      await sleep(1600);
      const refused = await call();
      expect(refused.status).toBe(401);
      expect((await refused.json()).message).toMatch(/Unauthorized: the token of eve expired at /);
    } finally {
      await soon.stop();
    }
  }, 60_000);
});

describe('the front door as its OpenAPI document says, tried as an attacker would', () => {
  const count = async () => (await (await api('/api/v1/events?limit=1000', { as: 'audrey' })).json()).events.length;
  const documented = async (response: JsonResponse, status: number) => {
    expect(response.status).toBe(status);
    const body = await response.json();
    expect(body).toEqual(expect.objectContaining({ error: expect.any(String), message: expect.any(String) }));
    return body;
  };

  it('refuses names that are not plain identifiers and control characters anywhere: 400, nothing written', async () => {
    const before = await count();
    const bodies = [
      { release: '../../x' },
      { release: 'v1\u0000' },
      { release: 'v1\nx' },
      { release: 'v1,v2' },
      { release: 'v1.0.0\u200b' },
      { release: 'ᴠ1.0.0' },
      { release: 'x'.repeat(10_000) },
      { release: 'v2.0.0', reason: 'a\u0000b' },
      { release: 'v2.0.0', reason: 'line\ninjected' },
      { release: 'v2.0.0', reason: 'x'.repeat(10_000) },
    ];
    for (const body of bodies)
      await documented(await post(`/api/v1/services/${SERVICE}/deployments`, 'alice', body), 400);
    const paths = [
      `/api/v1/services/${SERVICE}/tools/a%2Cb/disable`,
      `/api/v1/services/${SERVICE}/tools/a%00/disable`,
      `/api/v1/services/${SERVICE}/tools/a%0Ab/disable`,
      `/api/v1/services/${SERVICE}/tools/..%2F..%2Fx/disable`,
      `/api/v1/services/${SERVICE}/rollbacks/rb%00/approval`,
      `/api/v1/services/${SERVICE}%00/rollbacks`,
      '/api/v1/migrations/m%00/revert',
      '/api/v1/drills/..%2Fx/runs',
    ];
    for (const path of paths) await documented(await post(path, 'admin', { reason: 'x', toStage: 'v1' }), 400);
    for (const path of [
      '/api/v1/events?stream=a%00',
      '/api/v1/events/live?stream=a%0A',
      '/api/v1/events?types=A%00',
      '/api/v1/decisions/x%1B%5B2J',
      '/api/v1/drills/runs/r%00',
      '/api/v1/state?at=2026-01-01T00:00:00Z%00',
    ]) {
      await documented(await api(path, { as: 'admin' }), 400);
    }
    expect(await count()).toBe(before);
  });

  it('refuses unknown body fields and query parameters, naming them', async () => {
    const extra = await documented(
      await post(`/api/v1/services/${SERVICE}/rollbacks`, 'alice', { reason: 'x', force: true, skipApproval: 1 }),
      400,
    );
    expect(extra.problems.join(' ')).toMatch(/"force".*"skipApproval"/);
    const query = await documented(await api('/api/v1/services?admin=1', { as: 'vera' }), 400);
    expect(query.problems.join(' ')).toMatch(/"admin"/);
  });

  it('answers 415 to a non-JSON body, 405 with Allow to a wrong method, 404 to an unknown rollback/drill', async () => {
    const text = await api(`/api/v1/services/${SERVICE}/rollbacks`, {
      method: 'POST',
      as: 'alice',
      body: 'reason=x',
      headers: { 'Content-Type': 'text/plain' },
    });
    expect((await documented(text, 415)).message).toMatch(/Content-Type: application\/json/);
    const form = await api(`/api/v1/services/${SERVICE}/rollbacks`, {
      method: 'POST',
      as: 'alice',
      body: 'reason=x',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    await documented(form, 415);
    const wrong = await api('/api/v1/services', { method: 'DELETE', as: 'admin' });
    await documented(wrong, 405);
    expect(wrong.headers.get('allow')).toBe('GET, POST');
    const both = await api(`/api/v1/services/${SERVICE}/deployments`, { method: 'PUT', as: 'admin' });
    await documented(both, 405);
    expect(both.headers.get('allow')).toBe('GET, POST');
    const health = await api('/health', { method: 'POST' });
    await documented(health, 405);
    expect(health.headers.get('allow')).toBe('GET');
    expect(
      (await documented(await post(`/api/v1/services/${SERVICE}/rollbacks/rb-nope/approval`, 'bob', {}), 404)).message,
    ).toMatch(/no rollback "rb-nope"/);
    expect((await documented(await post('/api/v1/drills/no-such-drill/runs', 'alice', {}), 404)).message).toMatch(
      /no drill "no-such-drill"/,
    );
    expect(
      (await documented(await post('/api/v1/migrations/m-nope/revert', 'alice', { toStage: 'v1', reason: 'x' }), 404))
        .message,
    ).toMatch(/no migration "m-nope"/);
    expect((await post('/api/v1/drills/high-error-rate/runs', 'alice', {})).status).toBe(201);
  });

  it('answers every error in the documented shape, the Host and Origin 403 included', async () => {
    const { request } = await import('node:http');
    const raw = (path: string, headers: Record<string, string>) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        const url = new URL(path, door.url);
        request({ host: url.hostname, port: url.port, path: url.pathname, headers }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(body) }));
        })
          .on('error', reject)
          .end();
      });
    for (const headers of [
      { Host: 'evil.example.com' },
      { Host: 'localhost', Origin: 'https://evil.example.com' },
    ] as Record<string, string>[]) {
      const refused = await raw('/api/v1/services', headers);
      expect(refused.status).toBe(403);
      expect(refused.body).toEqual({
        error: 'Forbidden',
        message: expect.stringMatching(/^Forbidden: Invalid (Host|Origin)/),
      });
      expect((await raw('/mcp', headers)).body).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
    }
    const document = await (await api('/api/v1/openapi.json')).json();
    const responses = document.paths['/api/v1/services'].get.responses;
    for (const status of ['400', '401', '403', '404', '405', '409', '413', '415', '429']) {
      expect(responses[status].content['application/json'].schema.required, status).toEqual(['error', 'message']);
    }
    expect(
      document.paths['/api/v1/services/{service}/rollbacks'].post.requestBody.content['application/json'].schema
        .additionalProperties,
    ).toBe(false);
    await documented(await api('/api/v1/services'), 401);
    await documented(await api('/nowhere', { as: 'vera' }), 404);
  });
});

describe('JSON-RPC batches', () => {
  const batch = (size: number) =>
    JSON.stringify(
      Array.from({ length: size }, (_, i) => ({
        jsonrpc: '2.0',
        id: i + 1,
        method: 'tools/call',
        params: { name: 'list_services', arguments: {} },
      })),
    );

  it('are refused under every revision that removed them', async () => {
    for (const revision of ['2025-06-18', '2025-11-25', '2026-07-28']) {
      const refused = await rpc(batch(2), { 'MCP-Protocol-Version': revision });
      expect(refused.status, revision).toBe(400);
      expect((await refused.json()).error, revision).toMatchObject({
        code: -32600,
        message: expect.stringMatching(/batches were removed in protocol revision 2025-06-18/),
      });
    }
  });

  it('count each message against the rate limit under 2025-03-26, the one revision that had them', async () => {
    const limited = await startFrontDoor([], {}, { rateLimit: { perMinute: 6, burst: 5 } });
    try {
      const send = (size: number) =>
        fetch(limited.mcpUrl, {
          method: 'POST',
          headers: {
            Authorization: `Bearer ${limited.tokens.vera}`,
            'Content-Type': 'application/json',
            Accept: 'application/json, text/event-stream',
            'MCP-Protocol-Version': '2025-03-26',
          },
          body: batch(size),
        });
      const first = await send(4);
      expect(first.status).toBe(200);
      await first.text();
      const refused: JsonResponse = await send(4);
      expect(refused.status).toBe(429);
      expect((await refused.json()).message).toMatch(/RateLimited: vera/);
    } finally {
      await limited.stop();
    }
  }, 60_000);
});

describe('a fleet whose driver can tell which releases exist', () => {
  it('refuses a deployment or rollback target of a release the process driver lacks, writing nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'failsafe-fleet-door-'));
    const releasesDir = fileURLToPath(new URL('../../drills/sample-fleet/releases', import.meta.url));
    writeFileSync(
      join(dir, 'fleet.yaml'),
      `services:\n  sample:\n    driver: process\n    releasesDir: ${JSON.stringify(releasesDir)}\n    port: 0\n`,
    );
    const fleet = await startFrontDoor([], {}, { fleetPath: join(dir, 'fleet.yaml') });
    try {
      const call = (path: string, body: unknown): Promise<JsonResponse> =>
        fetch(`${fleet.url}${path}`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${fleet.tokens.alice}`, 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        });
      const missing = await call('/api/v1/services/sample/deployments', { release: 'v9.9.9' });
      expect(missing.status).toBe(404);
      expect((await missing.json()).message).toMatch(/sample has no release "v9.9.9"/);
      expect((await call('/api/v1/services/sample/rollbacks', { reason: 'x', targetRelease: 'v9.9.9' })).status).toBe(
        404,
      );
      const events = await (
        await fetch(`${fleet.url}/api/v1/events?stream=service-sample`, {
          headers: { Authorization: `Bearer ${fleet.tokens.audrey}` },
        })
      ).json();
      // Only what serve --fleet wrote at its start.
      expect((events as { events: { type: string }[] }).events.map((e) => e.type)).toEqual(['ServiceRegistered']);
    } finally {
      await fleet.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
