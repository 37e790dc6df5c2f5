import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { handleCommand } from '../application/command-handler.js';
import { serviceDecider, type ServiceCommand } from '../domain/service-decider.js';
import { ProcessDriver } from '../drivers/process-driver.js';
import { WebhookDriver } from '../drivers/webhook-driver.js';
import { collect } from '../event-store/event-store.contract.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { encodeEvent, type EventData } from '../events/catalogue.js';
import { fixedClock } from '../runtime/clock.js';
import { actionKey, ServiceReconciler } from './service-reconciler.js';
import { serviceStream } from '../domain/streams.js';

const evidenceEventIds = ['0195f2a4-8c1e-7d3a-9b2f-5e6d7c8b9a01'];
/** The policy's decision to roll `service` back automatically (error rate above 10 %). */
const decision = (service: string): EventData<'RollbackDecided'> => ({
  rollbackId: 'r-1',
  service,
  mode: 'automatic',
  rule: 'error_rate_critical',
  threshold: 0.1,
  observed: 0.4,
  evidenceEventIds,
});

/** A deploy endpoint answering each rollback with the next of `rollbackStatuses` (500, disk full, by default). */
async function flakyEndpoint(rollbackStatuses?: number[]) {
  const actions: string[] = [];
  const keys: string[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const { action } = JSON.parse(raw) as { action: string };
      actions.push(action);
      keys.push(String(req.headers['idempotency-key']));
      const status = action === 'rollback' ? (rollbackStatuses ? (rollbackStatuses.shift() ?? 200) : 500) : 200;
      if (status === 200) res.writeHead(200, { 'content-type': 'application/json' }).end('{"instances":[]}');
      else res.writeHead(status).end(status === 429 ? 'slow down' : 'disk full while restoring the backup');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  return { url, server: server as Server, actions, keys };
}

/** Waits until the service's stream holds `count` events of `type`; returns the stream's event types. */
async function untilRecorded(store: SqliteEventStore, service: string, type: string, count = 1, timeoutMs = 20_000) {
  const types = async () => (await collect(store.readStream(serviceStream(service)))).map((e) => e.type);
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(50)) {
    const now = await types();
    if (now.filter((t) => t === type).length >= count) return now;
  }
  throw new Error(`no ${type}: ${(await types()).join(', ')}`);
}

describe('service reconciler when the driver fails', () => {
  let dir: string;
  let store: SqliteEventStore;
  let endpoint: Awaited<ReturnType<typeof flakyEndpoint>>;
  let reconciler: ServiceReconciler;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-reconciler-'));
    store = SqliteEventStore.open({ path: join(dir, 'events.db'), livePollIntervalMs: 20 });
  });
  const startWith = async (rollbackStatuses?: number[]) => {
    endpoint = await flakyEndpoint(rollbackStatuses);
    const retries = rollbackStatuses ? 1 : 0;
    const driver = new WebhookDriver({ url: endpoint.url, secret: 's', retries, backoffMs: 10 });
    reconciler = new ServiceReconciler(store, driver, { retryDelayMs: 20, maxAttempts: 3, verificationWindowMs: 20 });
    await reconciler.start();
  };
  afterEach(async () => {
    await reconciler.stop();
    await store.close();
    await new Promise((r) => endpoint.server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const issue = (command: ServiceCommand) =>
    handleCommand(store, serviceStream('payments'), serviceDecider, command, { actor: 'test', now: new Date() });
  const until = (type: string, count = 1) => untilRecorded(store, 'payments', type, count);

  const decide = () => issue({ type: 'DecideRollback', ...decision('payments') });
  /** The executor deploys each release in turn, each healthy: the history a rollback goes back through. */
  const deployed = async (...releases: string[]) => {
    for (const [i, release] of releases.entries()) {
      const deploymentId = `d-${i + 1}`;
      await issue({ type: 'RequestDeployment', service: 'payments', deploymentId, release, now: new Date() });
      await until('DeploymentHealthy', i + 1);
    }
  };
  const recorded = async () => collect(store.readStream(serviceStream('payments')));
  const types = async () => (await recorded()).map((e) => e.type);
  const rollbackKeys = () => endpoint.keys.filter((_, i) => endpoint.actions[i] === 'rollback');

  it('records a scale its driver cannot carry out as failed, saying why, and sends nothing', async () => {
    await startWith();
    await issue({ type: 'RegisterService', service: 'payments', source: 'fleet' });
    await issue({ type: 'RequestScale', service: 'payments', scaleId: 's-1', replicas: 3 });
    await until('ScaleFailed');
    const failed = (await recorded()).find((e) => e.type === 'ScaleFailed')!;
    expect(failed.data).toMatchObject({ scaleId: 's-1', replicas: 3, reason: expect.stringMatching(/^CannotScale/) });
    expect(endpoint.actions).toEqual([]);
  });

  it('when it starts after a request expired, records the expiry and never runs it', async () => {
    endpoint = await flakyEndpoint();
    await issue({ type: 'RegisterService', service: 'payments', source: 'fleet' });
    const hourAgo = new Date(Date.now() - 60 * 60_000);
    await issue({ type: 'RequestDeployment', service: 'payments', deploymentId: 'd-1', release: 'v1', now: hourAgo });
    reconciler = new ServiceReconciler(store, new WebhookDriver({ url: endpoint.url, secret: 's', retries: 0 }), {
      requestExpiryMs: 15 * 60_000,
    });
    await reconciler.start();
    const story = await until('DeploymentExpired');
    await reconciler.idle();
    expect(await types()).toEqual(['ServiceRegistered', 'DeploymentRequested', 'DeploymentExpired']);
    const [expired] = (await collect(store.readStream(serviceStream('payments')))).filter(
      (e) => e.type === 'DeploymentExpired',
    );
    expect(expired!.data).toMatchObject({
      deploymentId: 'd-1',
      requestedAt: hourAgo.toISOString(),
      maxAgeSeconds: 900,
    });
    expect(story).not.toContain('DeploymentStarted');
    expect(endpoint.actions).toEqual([]);
  });

  it('escalates, and never carries out, a decision no executor started within the request expiry', async () => {
    endpoint = await flakyEndpoint([]);
    await issue({ type: 'RegisterService', service: 'payments', source: 'fleet' });
    for (const [deploymentId, release] of [
      ['d-1', 'v1'],
      ['d-2', 'v2'],
    ] as const) {
      await issue({ type: 'RequestDeployment', service: 'payments', deploymentId, release, now: new Date() });
      await issue({ type: 'StartDeployment', service: 'payments', deploymentId });
      await issue({ type: 'MarkDeploymentHealthy', service: 'payments', deploymentId });
    }
    await decide();
    // The executor comes an hour after the decision.
    const clock = fixedClock(new Date(Date.now() + 60 * 60_000));
    const driver = new WebhookDriver({ url: endpoint.url, secret: 's', retries: 0 });
    reconciler = new ServiceReconciler(store, driver, { requestExpiryMs: 15 * 60_000, clock });
    await reconciler.start();
    const story = await until('RollbackEscalated');
    expect(story.slice(-2)).toEqual(['RollbackDecided', 'RollbackEscalated']);
    const why = /decided at \S+ and not started by any executor within 15 min \(60 min ago\): .*a person must judge/;
    expect((await recorded()).at(-1)!.data).toMatchObject({ rollbackId: 'r-1', reason: expect.stringMatching(why) });
    expect(endpoint.actions).not.toContain('rollback');
  });

  it('records each failed attempt, retries, then escalates: nothing is left in limbo', async () => {
    await issue({ type: 'RegisterService', service: 'payments', source: 'fleet' });
    await startWith();
    await deployed('v1', 'v2');
    await decide();
    const story = await until('RollbackEscalated');
    expect(story.slice(-8)).toEqual([
      'RollbackDecided',
      'RollbackStarted',
      'RollbackFailed',
      'RollbackStarted',
      'RollbackFailed',
      'RollbackStarted',
      'RollbackFailed',
      'RollbackEscalated',
    ]);
    const failed = (await collect(store.readStream(serviceStream('payments')))).filter(
      (e) => e.type === 'RollbackFailed',
    );
    expect(failed.map((e) => e.data.attempt)).toEqual([1, 2, 3]);
    expect(failed[0]!.data.reason).toMatch(/WebhookFailed: rollback of payments: .*HTTP 500 disk full/);
    expect(endpoint.actions.filter((a) => a === 'rollback')).toHaveLength(3);
    // The executor's retries are the same action: one key, derived from the decision event.
    const decided = (await recorded()).find((e) => e.type === 'RollbackDecided')!;
    expect(new Set(rollbackKeys())).toEqual(new Set([actionKey(decided.id, 'rollback')]));
  }, 30_000);

  it('sends one idempotency key across a 429 and the retry that succeeds, and completes the rollback', async () => {
    await issue({ type: 'RegisterService', service: 'payments', source: 'fleet' });
    await startWith([429, 200]);
    await deployed('v1', 'v2');
    await decide();
    const story = await until('RollbackVerified');
    expect(story.slice(-5)).toEqual([
      'RollbackDecided',
      'RollbackStarted',
      'RollbackCompleted',
      'DeploymentRolledBack',
      'RollbackVerified',
    ]);
    expect(endpoint.actions.filter((a) => a === 'rollback')).toHaveLength(2);
    const [first, second] = rollbackKeys();
    expect(second).toBe(first);
    const events = await recorded();
    expect(first).toBe(actionKey(events.find((e) => e.type === 'RollbackDecided')!.id, 'rollback'));
    // Each deployment is its own action, with its own key.
    const deployKeys = endpoint.keys.filter((_, i) => endpoint.actions[i] === 'deploy');
    const requests = events.filter((e) => e.type === 'DeploymentRequested');
    expect(deployKeys).toEqual(requests.map((e) => actionKey(e.id, 'deploy')));
    expect(new Set(deployKeys).size).toBe(2);
  }, 30_000);

  it('escalates a decision it cannot carry out instead of leaving it decided', async () => {
    await issue({ type: 'RegisterService', service: 'payments', source: 'fleet' });
    await startWith([]);
    await deployed('v1');
    // Recorded as a store from before this fix holds it: decided, with no release to go to.
    const metadata = { actor: 'failsafe:policy', occurredAt: new Date() };
    const stuck = encodeEvent({ type: 'RollbackDecided', data: decision('payments') }, metadata);
    await store.append(serviceStream('payments'), [stuck], 'any');
    const story = await until('RollbackEscalated');
    expect(story.slice(-2)).toEqual(['RollbackDecided', 'RollbackEscalated']);
    const why = /cannot be carried out: .*no-release-to-roll-back-to/;
    expect((await recorded()).at(-1)!.data).toMatchObject({ rollbackId: 'r-1', reason: expect.stringMatching(why) });
    expect(endpoint.actions).not.toContain('rollback');
  }, 30_000);
});

const releasesDir = fileURLToPath(new URL('../../drills/sample-fleet/releases/', import.meta.url));

describe('service reconciler restarted between completing a rollback and verifying it (real processes)', () => {
  let dir: string;
  let store: SqliteEventStore;
  let driver: ProcessDriver;
  const reconcilers: ServiceReconciler[] = [];
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-reconciler-'));
    store = SqliteEventStore.open({ path: join(dir, 'events.db'), livePollIntervalMs: 20 });
    const services = { sample: { releasesDir, port: 0 } };
    driver = await ProcessDriver.start({ services, stateDir: join(dir, 'state') });
  });
  afterEach(async () => {
    for (const reconciler of reconcilers.splice(0)) await reconciler.stop();
    await driver.stopAll();
    await driver.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (verificationWindowMs = 1_000) => {
    const reconciler = new ServiceReconciler(store, driver, { verificationWindowMs, probeTools: { sample: 'time' } });
    reconcilers.push(reconciler);
    await reconciler.start();
    return reconciler;
  };
  const issue = (command: ServiceCommand) =>
    handleCommand(store, serviceStream('sample'), serviceDecider, command, { actor: 'test', now: new Date() });

  it('verifies on start a rollback that was completed but not verified when Failsafe stopped', async () => {
    // Verifying takes a minute here: Failsafe stops before it is done.
    const first = await start(60_000);
    await issue({ type: 'RegisterService', service: 'sample', source: 'fleet' });
    await issue({
      type: 'RequestDeployment',
      service: 'sample',
      deploymentId: 'd-1',
      release: 'v1.0.0',
      now: new Date(),
    });
    await untilRecorded(store, 'sample', 'DeploymentHealthy', 1, 60_000);
    await issue({
      type: 'RequestDeployment',
      service: 'sample',
      deploymentId: 'd-2',
      release: 'v2.0.0-errors',
      now: new Date(),
    });
    await untilRecorded(store, 'sample', 'DeploymentHealthy', 2, 60_000);
    await issue({ type: 'DecideRollback', ...decision('sample') });
    await untilRecorded(store, 'sample', 'RollbackCompleted', 1, 60_000);
    await first.stop();
    const left = (await collect(store.readStream(serviceStream('sample')))).map((e) => e.type);
    expect(left.slice(-2)).toEqual(['RollbackCompleted', 'DeploymentRolledBack']);

    await start();
    const story = await untilRecorded(store, 'sample', 'RollbackVerified', 1, 60_000);
    expect(story.slice(-3)).toEqual(['RollbackCompleted', 'DeploymentRolledBack', 'RollbackVerified']);
    const verified = (await collect(store.readStream(serviceStream('sample')))).at(-1)!;
    expect(verified.data).toMatchObject({ rollbackId: 'r-1', passed: true });
    const checks = (verified.data as { checks: { name: string; detail?: string }[] }).checks;
    expect(checks.map((c) => c.name.split(':')[0])).toEqual(['health', 'tools', 'error_rate']);
    expect(checks[1]!.detail).toBe('5 tools listed at each of 3 probes, as expected');
    expect(checks[2]!.detail).toMatch(/of 10 tool calls failed/);
  }, 120_000);
});

describe('two executors on one store (SQLite), leases on a clock the test moves', () => {
  let dir: string;
  let store: SqliteEventStore;
  let server: Server;
  let url: string;
  /** Every request the endpoint received (`instances`: a verification's look), with its idempotency key. */
  const received: { action: string; key: string }[] = [];
  /** The first rollback request is held unanswered until `answerHeld()`: its executor looks stuck. */
  let holdFirstRollback = false;
  let answerHeld = () => {};
  const reconcilers: ServiceReconciler[] = [];
  const logs: Record<string, string[]> = { a: [], b: [] };
  const now = new Date();
  const clocks = { a: fixedClock(now), b: fixedClock(now) };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-reconciler-'));
    store = SqliteEventStore.open({ path: join(dir, 'events.db'), livePollIntervalMs: 20 });
    received.length = 0;
    holdFirstRollback = false;
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        const { action } = JSON.parse(raw) as { action: string };
        received.push({ action, key: String(req.headers['idempotency-key']) });
        const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"instances":[]}');
        if (action === 'rollback' && holdFirstRollback) {
          holdFirstRollback = false;
          answerHeld = () => {
            answerHeld = () => {};
            answer();
          };
        } else answer();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  });
  afterEach(async () => {
    answerHeld();
    for (const reconciler of reconcilers.splice(0)) await reconciler.stop();
    await store.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  /** An executor named `name`, whose lease lasts a minute and is never renewed within a test (an hour). */
  const executor = async (name: 'a' | 'b') => {
    const driver = new WebhookDriver({ url, secret: 's', retries: 0, timeoutMs: 20_000 });
    const reconciler = new ServiceReconciler(store, driver, {
      clock: clocks[name],
      leaseMs: 60_000,
      renewEveryMs: 3_600_000,
      verificationWindowMs: 20,
      executor: { replica: `replica-${name}`, host: `host-${name}`, pid: name === 'a' ? 101 : 202 },
      log: (line) => logs[name]!.push(line),
    });
    reconcilers.push(reconciler);
    await reconciler.start();
    return reconciler;
  };
  const issue = (command: ServiceCommand) =>
    handleCommand(store, serviceStream('payments'), serviceDecider, command, { actor: 'test', now: new Date() });
  const recorded = async () => collect(store.readStream(serviceStream('payments')));
  const count = async (type: string) => (await recorded()).filter((e) => e.type === type).length;
  const deployV1ThenV2 = async () => {
    for (const [deploymentId, release] of [
      ['d-1', 'v1'],
      ['d-2', 'v2'],
    ] as const) {
      await issue({ type: 'RequestDeployment', service: 'payments', deploymentId, release, now: new Date() });
      await untilRecorded(store, 'payments', 'DeploymentHealthy', deploymentId === 'd-1' ? 1 : 2);
    }
  };

  it('carries each deployment and the rollback out once, by whichever executor started it', async () => {
    await issue({ type: 'RegisterService', service: 'payments', source: 'fleet' });
    const [a, b] = [await executor('a'), await executor('b')];
    await deployV1ThenV2();
    await issue({ type: 'DecideRollback', ...decision('payments') });
    await untilRecorded(store, 'payments', 'RollbackVerified');
    await Promise.all([a.idle(), b.idle()]);
    // Verified by the executor that completed it alone: one look at the instances.
    expect(received.map((r) => r.action)).toEqual(['deploy', 'deploy', 'rollback', 'instances']);
    expect(await count('RollbackStarted')).toBe(1);
    expect(await count('DeploymentStarted')).toBe(2);
    expect(await count('ExecutionTakenOver')).toBe(0);
    const started = (await recorded()).find((e) => e.type === 'RollbackStarted')!;
    expect(started.data).toMatchObject({ executor: { replica: expect.stringMatching(/^replica-[ab]$/) } });
  }, 30_000);

  it('leaves a rollback to the executor holding its lease, takes it over once it lapsed; the first stops', async () => {
    await issue({ type: 'RegisterService', service: 'payments', source: 'fleet' });
    const a = await executor('a');
    await deployV1ThenV2();
    holdFirstRollback = true;
    await issue({ type: 'DecideRollback', ...decision('payments') });
    await expect.poll(() => received.filter((r) => r.action === 'rollback').length).toBe(1);
    expect((await recorded()).at(-1)!.data).toMatchObject({ executor: { replica: 'replica-a' } });

    // B sees the rollback in progress under A's lease (a minute): it leaves it alone.
    const b = await executor('b');
    clocks.b.set(new Date(now.getTime() + 59_000));
    await b.reconcile('payments');
    expect(received.filter((r) => r.action === 'rollback')).toHaveLength(1);
    expect(await count('ExecutionTakenOver')).toBe(0);

    // A never renewed (stuck, or cut off): once its lease has lapsed, B takes over and finishes.
    clocks.b.set(new Date(now.getTime() + 60_000));
    await b.reconcile('payments');
    await untilRecorded(store, 'payments', 'RollbackVerified');
    const takenOver = (await recorded()).find((e) => e.type === 'ExecutionTakenOver')!;
    expect(takenOver.data).toMatchObject({
      work: { kind: 'rollback', id: 'r-1' },
      executor: { replica: 'replica-b' },
      from: { replica: 'replica-a' },
    });
    // The same action twice, with one key: a receiver that deduplicates runs it once.
    const rollbacks = received.filter((r) => r.action === 'rollback');
    expect(rollbacks).toHaveLength(2);
    expect(received.filter((r) => r.action === 'instances')).toHaveLength(1);
    expect(new Set(rollbacks.map((r) => r.key)).size).toBe(1);

    // A's answer comes at last: it records nothing (the lease and the rollback are no longer its to record).
    answerHeld();
    const stopped = /rollback r-1 moved on meanwhile: .*rollback r-1 of payments is completed/;
    await expect.poll(() => logs.a!.some((l) => stopped.test(l))).toBe(true);
    await a.idle();
    const story = (await recorded()).map((e) => e.type);
    expect(story.slice(story.indexOf('RollbackDecided'))).toEqual([
      'RollbackDecided',
      'RollbackStarted',
      'ExecutionTakenOver',
      'RollbackCompleted',
      'DeploymentRolledBack',
      'RollbackVerified',
    ]);
  }, 30_000);
});
