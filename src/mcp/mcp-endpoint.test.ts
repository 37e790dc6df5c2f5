import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operations } from '../api/operations.js';
import { startFrontDoor, type FrontDoor, type Person } from '../http/front-door.fixture.js';

/** What the tests need of a client; the v1 and v2 SDK clients both offer it. */
interface McpClient {
  readonly negotiated: string | undefined;
  callTool(params: {
    name: string;
    arguments?: Record<string, unknown>;
  }): Promise<{ isError?: boolean; structuredContent?: unknown; content?: unknown }>;
  listTools(): Promise<{ tools: { name: string; inputSchema: unknown; outputSchema?: unknown }[] }>;
  listResources(): Promise<{ resources: { uri: string }[] }>;
  listResourceTemplates(): Promise<{ resourceTemplates: { uriTemplate: string }[] }>;
  readResource(params: { uri: string }): Promise<{ contents: { uri: string; text?: string }[] }>;
  listPrompts(): Promise<{ prompts: { name: string }[] }>;
  getPrompt(params: {
    name: string;
    arguments?: Record<string, string>;
  }): Promise<{ messages: { content: unknown }[] }>;
  close(): Promise<void>;
}

type Era = 'v2-modern' | 'v2-legacy' | 'v1';
const EXPECTED_REVISION: Record<Era, string> = {
  'v2-modern': '2026-07-28',
  'v2-legacy': '2025-11-25',
  v1: '2025-11-25',
};

async function connect(era: Era, door: FrontDoor, person: Person): Promise<McpClient> {
  const requestInit = { headers: { Authorization: `Bearer ${door.tokens[person]}` } };
  const url = new URL(door.mcpUrl);
  if (era === 'v1') {
    const client = new V1Client({ name: `failsafe-test-${person}`, version: '1.0.0' });
    const transport = new V1Transport(url, { requestInit });
    await client.connect(transport);
    return Object.assign(client, { negotiated: transport.protocolVersion }) as unknown as McpClient;
  }
  const client = new Client(
    { name: `failsafe-test-${person}`, version: '1.0.0' },
    { versionNegotiation: { mode: era === 'v2-modern' ? 'auto' : 'legacy' } },
  );
  await client.connect(new StreamableHTTPClientTransport(url, { requestInit }));
  return Object.assign(client, { negotiated: client.getNegotiatedProtocolVersion() }) as unknown as McpClient;
}

const structured = async (client: McpClient, name: string, args: Record<string, unknown> = {}) => {
  const result = await client.callTool({ name, arguments: args });
  if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
  return result.structuredContent as Record<string, any>;
};

const errorText = async (client: McpClient, name: string, args: Record<string, unknown>) => {
  const result = await client.callTool({ name, arguments: args });
  expect(result.isError).toBe(true);
  return (result.content as { text?: string }[]).map((c) => c.text).join('\n');
};

const ERAS: Era[] = ['v2-modern', 'v2-legacy', 'v1'];
let door: FrontDoor;

beforeAll(async () => {
  door = await startFrontDoor(ERAS.map((era) => `orders-${era}`));
}, 60_000);
afterAll(async () => {
  await door?.stop();
});

describe.each(ERAS)('the MCP endpoint through the %s client', (era) => {
  const service = `orders-${era}`;
  const clients: Partial<Record<Person, McpClient>> = {};
  const as = async (person: Person) => (clients[person] ??= await connect(era, door, person));
  afterAll(async () => {
    for (const client of Object.values(clients)) await client.close();
  });

  it(`negotiates ${EXPECTED_REVISION[era]}`, async () => {
    expect((await as('admin')).negotiated).toBe(EXPECTED_REVISION[era]);
  });

  it('lists every operation as a tool with input and output schemas', async () => {
    const { tools } = await (await as('vera')).listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(operations.map((o) => o.name).sort());
    for (const tool of tools) {
      expect(tool.inputSchema).toMatchObject({ type: 'object' });
      expect(tool.outputSchema).toMatchObject({ type: 'object' });
    }
  });

  it('reads services, status, deployment history and migrations', async () => {
    const admin = await as('admin');
    const { services } = await structured(admin, 'list_services');
    expect(services.find((s: { service: string }) => s.service === service)).toMatchObject({
      currentRelease: 'v1.1.0',
      lastKnownGood: 'v1.0.0',
      status: 'healthy',
    });
    const status = await structured(admin, 'service_status', { service, events: 3 });
    expect(status.service).toMatchObject({ service, currentRelease: 'v1.1.0' });
    expect(status.recentEvents).toHaveLength(3);
    const { deployments } = await structured(admin, 'deployment_history', { service });
    expect(deployments.map((d: { release: string; status: string }) => [d.release, d.status])).toEqual([
      ['v1.1.0', 'healthy'],
      ['v1.0.0', 'healthy'],
    ]);
    const { migrations } = await structured(admin, 'migration_status', { service });
    expect(migrations).toEqual([
      expect.objectContaining({ migrationId: `m-${service}`, stage: 'v2', status: 'running' }),
    ]);
  });

  it('runs the two-person rollback: requested by an operator, approved by an approver, and only once', async () => {
    const alice = await as('alice');
    const bob = await as('bob');
    const requested = await structured(alice, 'request_rollback', { service, reason: 'checkout errors after v1.1.0' });
    expect(requested).toMatchObject({ status: 'awaiting_approval', requestedBy: 'alice' });
    expect(await errorText(alice, 'approve_rollback', { service, rollbackId: requested.rollbackId })).toMatch(
      /Forbidden: alice \(role operator\) may not approve/,
    );
    const approved = await structured(bob, 'approve_rollback', { service, rollbackId: requested.rollbackId });
    expect(approved).toMatchObject({ approvedBy: 'bob', rollbackId: requested.rollbackId });
    expect(await errorText(bob, 'approve_rollback', { service, rollbackId: requested.rollbackId })).toMatch(
      /InvariantViolated/,
    );
    const admin = await as('admin');
    // legacy-api has an automatic rollback in progress: a manual request on top of it is refused.
    expect(
      await errorText(admin, 'request_rollback', { service: 'legacy-api', reason: 'on top of an automatic one' }),
    ).toMatch(/InvariantViolated/);
    const { service: view } = await structured(admin, 'service_status', { service });
    expect(view.rollback).toMatchObject({ id: requested.rollbackId, status: 'approved', approval: { by: 'bob' } });
  });

  it('disables and re-enables a tool, recording who did it', async () => {
    const alice = await as('alice');
    expect(await structured(alice, 'disable_tool', { service, tool: 'checkout', reason: 'breaker flapping' })).toEqual({
      service,
      tool: 'checkout',
      disabled: true,
      changed: true,
    });
    expect(await structured(alice, 'disable_tool', { service, tool: 'checkout' })).toMatchObject({ changed: false });
    const audrey = await as('audrey');
    const { events } = await structured(audrey, 'query_events', {
      stream: `service-${service}`,
      types: ['FeatureDisabled'],
    });
    expect(events).toEqual([
      expect.objectContaining({ type: 'FeatureDisabled', metadata: expect.objectContaining({ actor: 'alice' }) }),
    ]);
    expect(await structured(alice, 'enable_tool', { service, tool: 'checkout' })).toMatchObject({
      disabled: false,
      changed: true,
    });
  });

  it('registers a service, shows its deployment request no executor started, and cancels it', async () => {
    const alice = await as('alice');
    const fresh = `new-${era}`;
    expect(await structured(alice, 'register_service', { service: fresh })).toEqual({
      service: fresh,
      registered: true,
      changed: true,
    });
    const { deploymentId } = await structured(alice, 'deploy_release', { service: fresh, release: 'v1.0.0' });
    const { service: waiting } = await structured(alice, 'service_status', { service: fresh });
    expect(waiting.waiting).toMatchObject({
      kind: 'deployment',
      id: deploymentId,
      release: 'v1.0.0',
      since: expect.any(String),
    });
    expect(await structured(alice, 'cancel_deployment', { service: fresh, deploymentId })).toMatchObject({
      status: 'cancelled',
      cancelledBy: 'alice',
    });
    const { service: after } = await structured(alice, 'service_status', { service: fresh });
    expect(after).toMatchObject({ status: 'unknown', deployment: { id: deploymentId, status: 'cancelled' } });
    expect(after.waiting).toBeUndefined();
  });

  it('reverts a migration stage, starts a drill and reports it', async () => {
    const alice = await as('alice');
    expect(
      await structured(alice, 'revert_migration', {
        migrationId: `m-${service}`,
        toStage: 'v1',
        reason: 'errors at v2',
      }),
    ).toEqual({ migrationId: `m-${service}`, fromStage: 'v2', toStage: 'v1' });
    const { runId } = await structured(alice, 'start_drill', { drill: 'high-error-rate' });
    expect((await structured(alice, 'drill_report', { runId })).run).toMatchObject({
      runId,
      drill: 'high-error-rate',
      outcome: 'requested',
      requestedBy: 'alice',
    });
    expect((await structured(alice, 'list_drill_runs')).runs).toEqual(
      expect.arrayContaining([expect.objectContaining({ runId })]),
    );
    expect(await errorText(alice, 'drill_report', { runId: 'run-nope' })).toMatch(/NotFound: no drill run "run-nope"/);
  });

  it('answers auditors: events page by page, the state at an instant, the explanation of a decision', async () => {
    const audrey = await as('audrey');
    const first = await structured(audrey, 'query_events', { limit: 2 });
    const second = await structured(audrey, 'query_events', { limit: 2, after: first.nextCursor });
    expect(first.events).toHaveLength(2);
    expect(BigInt(second.events[0].position)).toBeGreaterThan(BigInt(first.events[1].position));
    const past = await structured(audrey, 'state_at', { at: '2000-01-01T00:00:00Z' });
    expect(past).toMatchObject({ eventsApplied: 0 });
    const now = await structured(audrey, 'state_at', { at: new Date().toISOString(), service });
    expect(Object.keys(now.services.services)).toEqual([service]);
    const explanation = await structured(audrey, 'explain_decision', { decision: door.decisionId });
    expect(explanation.decision).toMatchObject({ id: door.decisionId, type: 'RollbackDecided' });
    expect(explanation.evidence).toHaveLength(1);
    expect(await errorText(await as('vera'), 'query_events', {})).toMatch(
      /Forbidden: vera \(role viewer\) may not audit; this needs a token with role auditor or admin/,
    );
  });

  it('refuses wrong argument types and unknown tools with a message that helps', async () => {
    const admin = await as('admin');
    expect(await errorText(admin, 'service_status', { service: 42 })).toMatch(/service/);
    expect(await errorText(admin, 'service_status', { service: 'nope' })).toMatch(/NotFound: no service "nope"/);
    const unknown = await admin.callTool({ name: 'drop_database', arguments: {} }).then(
      (r) => JSON.stringify(r),
      (e: Error) => e.message,
    );
    expect(unknown).toMatch(/drop_database/);
  });

  it('answers each caller as itself when calls from different people run at the same time', async () => {
    const [vera, audrey, admin] = [await as('vera'), await as('audrey'), await as('admin')];
    const refused = (client: McpClient) => errorText(client, 'request_rollback', { service, reason: 'at once' });
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        i % 3 === 0 ? refused(vera) : i % 3 === 1 ? refused(audrey) : structured(admin, 'list_services'),
      ),
    );
    answers.forEach((answer, i) => {
      if (i % 3 === 0) expect(answer).toMatch(/Forbidden: vera \(role viewer\)/);
      else if (i % 3 === 1) expect(answer).toMatch(/Forbidden: audrey \(role auditor\)/);
      else expect((answer as { services: unknown[] }).services.length).toBeGreaterThan(0);
    });
  });

  it('refuses unknown arguments, bad names and control characters as invalid input, not internal errors', async () => {
    const alice = await as('alice');
    expect(await errorText(alice, 'request_rollback', { service, reason: 'x', force: true })).toMatch(/force/);
    const attacks: [string, Record<string, unknown>][] = [
      ['deploy_release', { service, release: '../../x' }],
      ['deploy_release', { service, release: 'v1\u0000' }],
      ['deploy_release', { service, release: 'ᴠ1.0.0' }],
      ['deploy_release', { service, release: 'x'.repeat(10_000) }],
      ['deploy_release', { service, release: 'v2.0.0', reason: 'a\nb' }],
      ['disable_tool', { service, tool: 'refund,add' }],
      ['disable_tool', { service, tool: 'refund\u0000' }],
      ['approve_rollback', { service, rollbackId: 'rb\u001b[2J' }],
      ['query_events', { stream: 'service-x\u0000' }],
      ['explain_decision', { decision: '\u0000' }],
    ];
    for (const [tool, args] of attacks) {
      const result = await alice.callTool({ name: tool, arguments: args }).then(
        (r) => ({ isError: r.isError, text: JSON.stringify(r.content) }),
        (e: Error & { code?: number }) => ({ isError: true, text: e.message, code: e.code }),
      );
      expect(result.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
      expect(result.text, `${tool} ${JSON.stringify(args)}`).not.toMatch(/could not handle this request|Internal/);
    }
    const { events } = await structured(await as('audrey'), 'query_events', {
      stream: `service-${service}`,
      types: ['DeploymentRequested'],
    });
    expect(events.map((e: { data: { release: string } }) => e.data.release)).toEqual(['v1.0.0', 'v1.1.0']);
    await expect((await as('vera')).readResource({ uri: 'failsafe://services/a%00b' })).rejects.toThrow(
      /service: must be letters/,
    );
    await expect((await as('audrey')).readResource({ uri: 'failsafe://streams/%E0%A4%A' })).rejects.toThrow(
      /stream: is not a valid URI component/,
    );
  });

  it('refuses an unknown rollback, migration or drill as not found', async () => {
    const admin = await as('admin');
    expect(await errorText(admin, 'approve_rollback', { service, rollbackId: 'rb-nope' })).toMatch(
      /NotFound: .* has no rollback "rb-nope"/,
    );
    expect(await errorText(admin, 'revert_migration', { migrationId: 'm-nope', toStage: 'v1', reason: 'x' })).toMatch(
      /NotFound: no migration "m-nope"/,
    );
    expect(await errorText(admin, 'start_drill', { drill: 'no-such-drill' })).toMatch(
      /NotFound: no drill "no-such-drill"/,
    );
  });

  it('serves service state and event streams as resources', async () => {
    const vera = await as('vera');
    const { resourceTemplates } = await vera.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate).sort()).toEqual([
      'failsafe://services/{service}',
      'failsafe://streams/{stream}',
    ]);
    const { resources } = await vera.listResources();
    expect(resources.map((r) => r.uri)).toContain(`failsafe://services/${service}`);
    const state = await vera.readResource({ uri: `failsafe://services/${service}` });
    expect(JSON.parse(state.contents[0]!.text!)).toMatchObject({ service, currentRelease: 'v1.1.0' });
    await expect(vera.readResource({ uri: `failsafe://streams/service-${service}` })).rejects.toThrow(
      /Forbidden: vera/,
    );
    const stream = await (await as('audrey')).readResource({ uri: `failsafe://streams/service-${service}` });
    expect(JSON.parse(stream.contents[0]!.text!).slice(0, 2)).toMatchObject([
      { type: 'ServiceRegistered' },
      { type: 'DeploymentRequested' },
    ]);
  });

  it('fills the post-incident review and the rollback runbook prompts', async () => {
    const vera = await as('vera');
    expect((await vera.listPrompts()).prompts.map((p) => p.name).sort()).toEqual([
      'post_incident_review',
      'rollback_runbook',
    ]);
    const runbook = JSON.stringify(
      (await vera.getPrompt({ name: 'rollback_runbook', arguments: { service } })).messages,
    );
    expect(runbook).toContain(`Rollback runbook: ${service}`);
    expect(runbook).toContain('last known good v1.0.0');
    expect(runbook).toMatch(/disable_agent \{ service: .*enter_legacy_mode \{ service: .*enter_fleet_legacy_mode/);
    const review = JSON.stringify(
      (await vera.getPrompt({ name: 'post_incident_review', arguments: { incident: 'legacy-api' } })).messages,
    );
    expect(review).toContain('# Incident Report: legacy-api');
    expect(review).toContain('rule error_rate_critical observed 0.23');
    await expect(vera.getPrompt({ name: 'rollback_runbook', arguments: { service: 'nope' } })).rejects.toThrow(
      /NotFound: no service "nope"/,
    );
  });
});
