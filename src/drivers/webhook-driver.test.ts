import { createServer, type IncomingMessage, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebhookDriver, WebhookFailed, webhookSignature } from './webhook-driver.js';

interface Received {
  readonly body: Record<string, unknown>;
  readonly headers: IncomingMessage['headers'];
  readonly validSignature: boolean;
  /** When it arrived (performance.now()). */
  readonly at: number;
}

/** A real deploy endpoint on loopback that answers with the statuses it is given, in turn. */
async function endpoint(
  secret: string,
  statuses: number[],
): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const timestamp = String(req.headers['x-failsafe-timestamp']);
      const validSignature = req.headers['x-failsafe-signature'] === webhookSignature(secret, timestamp, raw);
      received.push({ body: JSON.parse(raw), headers: req.headers, validSignature, at: performance.now() });
      const status = statuses.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        status === 200
          ? JSON.stringify({ instances: [{ id: 'i-1', release: 'v2', url: 'http://127.0.0.1:9/' }] })
          : JSON.stringify({ error: 'busy' }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/deploy`, received, server };
}

describe('webhook driver (a real HTTP endpoint)', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  it('signs each request and keeps one idempotency key across retries after 503s', async () => {
    const hook = await endpoint('s3cret', [503, 503, 200]);
    server = hook.server;
    const driver = new WebhookDriver({ url: hook.url, secret: 's3cret', backoffMs: 10 });
    const instances = await driver.deploy('payments', 'v2');
    expect(instances).toEqual([
      { id: 'i-1', service: 'payments', release: 'v2', url: 'http://127.0.0.1:9/', startedAt: expect.any(String) },
    ]);
    expect(hook.received).toHaveLength(3);
    expect(hook.received.every((r) => r.validSignature)).toBe(true);
    expect(new Set(hook.received.map((r) => r.headers['idempotency-key'])).size).toBe(1);
    expect(hook.received[0]!.body).toMatchObject({
      action: 'deploy',
      service: 'payments',
      release: 'v2',
      idempotencyKey: hook.received[0]!.headers['idempotency-key'],
    });
    await driver.setFeatureFlags('payments', { tools: ['refund'], agents: ['planner'], legacyMode: true });
    expect(hook.received.at(-1)!.body).toMatchObject({
      action: 'set-feature-flags',
      disabledTools: ['refund'],
      disabledAgents: ['planner'],
      legacyMode: true,
    });
    expect(hook.received.at(-1)!.headers['idempotency-key']).not.toBe(hook.received[0]!.headers['idempotency-key']);
  });

  it('pauses longer before each retry, by a random factor so that several Failsafes do not retry in step', async () => {
    const hook = await endpoint('s3cret', [503, 503, 200]);
    server = hook.server;
    vi.spyOn(Math, 'random').mockReturnValue(0.99);
    try {
      await new WebhookDriver({ url: hook.url, secret: 's3cret', backoffMs: 100 }).deploy('payments', 'v2');
    } finally {
      vi.restoreAllMocks();
    }
    const [first, second, third] = hook.received.map((r) => r.at) as [number, number, number];
    // Without jitter the pauses would be 100 and 200 ms; the random factor (here 1.99) stretches them.
    expect(second - first).toBeGreaterThanOrEqual(190);
    expect(third - second).toBeGreaterThanOrEqual(390);
  });

  it("sends the executor's key, derived from the event behind the action, at every attempt", async () => {
    const hook = await endpoint('s3cret', [429, 200, 200]);
    server = hook.server;
    const driver = new WebhookDriver({ url: hook.url, secret: 's3cret', backoffMs: 10 });
    await driver.rollback('payments', 'v1', { idempotencyKey: 'key-from-the-decision' });
    await driver.rollback('payments', 'v1', { idempotencyKey: 'key-from-the-decision' });
    const key = 'key-from-the-decision';
    expect(hook.received.map((r) => r.headers['idempotency-key'])).toEqual([key, key, key]);
    expect(hook.received.map((r) => r.body.idempotencyKey)).toEqual([key, key, key]);
  });

  it('does not retry a request the endpoint refuses, and says why', async () => {
    const hook = await endpoint('s3cret', [400]);
    server = hook.server;
    const error = await new WebhookDriver({ url: hook.url, secret: 's3cret', backoffMs: 10 })
      .rollback('payments', 'v1')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebhookFailed);
    expect((error as Error).message).toMatch(/rollback of payments: attempt 1: HTTP 400 .*busy.*not retried/);
    expect(hook.received).toHaveLength(1);
  });

  it('stops at once, without another attempt, when its executor lost the lease on the work', async () => {
    const hook = await endpoint('s3cret', [503, 503, 503, 503]);
    server = hook.server;
    const lost = new AbortController();
    const driver = new WebhookDriver({ url: hook.url, secret: 's3cret', retries: 3, backoffMs: 300 });
    const rollback = driver.rollback('payments', 'v1', { idempotencyKey: 'k-1', signal: lost.signal });
    await expect.poll(() => hook.received.length).toBe(1);
    lost.abort(new Error('lease-lost: taken over by replica-b'));
    const error = await rollback.catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /rollback of payments: stopped after 1 attempts: .*taken over by replica-b/,
    );
    await sleep(700);
    expect(hook.received).toHaveLength(1);
  });

  it('gives up after its retries when the endpoint is unreachable', async () => {
    const hook = await endpoint('s3cret', []);
    await new Promise<void>((r) => hook.server.close(() => r()));
    const error = await new WebhookDriver({ url: hook.url, secret: 's3cret', retries: 2, backoffMs: 5 })
      .deploy('payments', 'v2')
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /WebhookFailed: deploy of payments: gave up after 3 attempts; last attempt 3: fetch failed/,
    );
  });
});
