import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { handleCommand } from '../application/command-handler.js';
import { serviceDecider, serviceStream, type ServiceCommand } from '../domain/service-decider.js';
import { WebhookDriver } from '../drivers/webhook-driver.js';
import { collect } from '../event-store/event-store.contract.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { ServiceReconciler } from './service-reconciler.js';

/** A deploy endpoint that deploys fine but fails every rollback halfway (HTTP 500). */
async function flakyEndpoint(): Promise<{ url: string; server: Server; actions: string[] }> {
  const actions: string[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const { action } = JSON.parse(raw) as { action: string };
      actions.push(action);
      if (action === 'rollback') res.writeHead(500).end('disk full while restoring the backup');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"instances":[]}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, server, actions };
}

describe('service reconciler when the driver fails', () => {
  let dir: string;
  let store: SqliteEventStore;
  let endpoint: Awaited<ReturnType<typeof flakyEndpoint>>;
  let reconciler: ServiceReconciler;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-reconciler-'));
    store = SqliteEventStore.open({ path: join(dir, 'events.db'), livePollIntervalMs: 20 });
    endpoint = await flakyEndpoint();
    const driver = new WebhookDriver({ url: endpoint.url, secret: 's', retries: 0 });
    reconciler = new ServiceReconciler(store, driver, { retryDelayMs: 20, maxAttempts: 3 });
    await reconciler.start();
  });
  afterEach(async () => {
    await reconciler.stop();
    await store.close();
    await new Promise((r) => endpoint.server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const issue = (command: ServiceCommand) => handleCommand(store, serviceStream('payments'), serviceDecider, command, { actor: 'test', now: new Date() });
  const types = async () => (await collect(store.readStream(serviceStream('payments')))).map((e) => e.type);
  /** Waits until the stream holds `count` events of `type`. */
  const until = async (type: string, count = 1) => {
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(50)) {
      const now = await types();
      if (now.filter((t) => t === type).length >= count) return now;
    }
    throw new Error(`no ${type}: ${(await types()).join(', ')}`);
  };

  it('when it starts after a request expired, records the expiry and never runs it', async () => {
    await reconciler.stop();
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

  it('records each failed attempt, retries, then escalates: nothing is left in limbo', async () => {
    await issue({ type: 'RegisterService', service: 'payments', source: 'fleet' });
    await issue({ type: 'RequestDeployment', service: 'payments', deploymentId: 'd-1', release: 'v1', now: new Date() });
    await until('DeploymentHealthy');
    await issue({ type: 'RequestDeployment', service: 'payments', deploymentId: 'd-2', release: 'v2', now: new Date() });
    await until('DeploymentHealthy', 2);
    await issue({ type: 'DecideRollback', rollbackId: 'r-1', service: 'payments', mode: 'automatic', rule: 'error_rate_critical', threshold: 0.1, observed: 0.4, evidenceEventIds: ['0195f2a4-8c1e-7d3a-9b2f-5e6d7c8b9a01'] });
    const story = await until('RollbackEscalated');
    expect(story.slice(-8)).toEqual([
      'RollbackDecided', 'RollbackStarted', 'RollbackFailed', 'RollbackStarted', 'RollbackFailed', 'RollbackStarted', 'RollbackFailed', 'RollbackEscalated',
    ]);
    const failed = (await collect(store.readStream(serviceStream('payments')))).filter((e) => e.type === 'RollbackFailed');
    expect(failed.map((e) => e.data.attempt)).toEqual([1, 2, 3]);
    expect(failed[0]!.data.reason).toMatch(/WebhookFailed: rollback of payments: .*HTTP 500 disk full/);
    expect(endpoint.actions.filter((a) => a === 'rollback')).toHaveLength(3);
  }, 30_000);
});
