import { createHmac, randomUUID } from 'node:crypto';
import { type ActionContext, type Instance, type TargetDriver } from './target-driver.js';

export interface WebhookDriverOptions {
  /** The user's deploy endpoint: Failsafe POSTs each action to it. */
  readonly url: string;
  /** Shared secret for the HMAC-SHA256 signature the endpoint must check. */
  readonly secret: string;
  readonly timeoutMs?: number;
  /** Attempts after the first, on a network error, a timeout, 429 or 5xx (default 3). */
  readonly retries?: number;
  /** First pause between attempts; doubled each time (default 500 ms). */
  readonly backoffMs?: number;
}

export class WebhookFailed extends Error {
  readonly code = 'WEBHOOK_FAILED';
  constructor(readonly action: string, readonly service: string, detail: string) {
    super(`WebhookFailed: ${action} of ${service}: ${detail}`);
    this.name = 'WebhookFailed';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The signature of a request: `sha256=` HMAC of `<timestamp>.<body>`, so a replayed old body is told apart. */
export const webhookSignature = (secret: string, timestamp: string, body: string): string =>
  `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;

/**
 * Acts through the user's own deploy endpoint: every action is one signed POST carrying an
 * idempotency key that stays the same across retries (the executor's too, and its restarts: the
 * key comes from the event behind the action), so a retried deploy happens once.
 * The endpoint answers `{ "instances": [{ "id", "release", "url" }] }`.
 */
export class WebhookDriver implements TargetDriver {
  constructor(private readonly options: WebhookDriverOptions) {}

  deploy(service: string, release: string, action?: ActionContext): Promise<Instance[]> {
    return this.call('deploy', service, { release }, action);
  }

  rollback(service: string, release: string, action?: ActionContext): Promise<Instance[]> {
    return this.call('rollback', service, { release }, action);
  }

  setDisabledTools(service: string, tools: readonly string[], action?: ActionContext): Promise<Instance[]> {
    return this.call('set-disabled-tools', service, { disabledTools: [...tools] }, action);
  }

  instances(service: string): Promise<Instance[]> {
    return this.call('instances', service, {});
  }

  async close(): Promise<void> {}

  private async call(
    action: string,
    service: string,
    details: Record<string, unknown>,
    context?: ActionContext,
  ): Promise<Instance[]> {
    // The executor's key, derived from the event behind the action; a fresh one only where no event asked (a read).
    const idempotencyKey = context?.idempotencyKey ?? randomUUID();
    const body = JSON.stringify({ action, service, ...details, idempotencyKey });
    const retries = this.options.retries ?? 3;
    let last = '';
    for (let attempt = 0; attempt <= retries; attempt += 1) {
      if (attempt > 0) await sleep((this.options.backoffMs ?? 500) * 2 ** (attempt - 1));
      const timestamp = String(Date.now());
      let response: Response;
      try {
        response = await fetch(this.options.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'idempotency-key': idempotencyKey,
            'x-failsafe-timestamp': timestamp,
            'x-failsafe-signature': webhookSignature(this.options.secret, timestamp, body),
          },
          body,
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
        });
      } catch (error) {
        last = `attempt ${attempt + 1}: ${(error as Error).message}`;
        continue;
      }
      const text = await response.text();
      if (response.ok) return this.instancesFrom(service, text);
      last = `attempt ${attempt + 1}: HTTP ${response.status} ${text.slice(0, 500)}`;
      if (response.status !== 429 && response.status < 500) throw new WebhookFailed(action, service, `${last} (not retried: the endpoint refused the request)`);
    }
    throw new WebhookFailed(action, service, `gave up after ${retries + 1} attempts; last ${last}`);
  }

  private instancesFrom(service: string, text: string): Instance[] {
    let parsed: { instances?: { id?: unknown; release?: unknown; url?: unknown }[] };
    try {
      parsed = text ? (JSON.parse(text) as typeof parsed) : {};
    } catch {
      throw new WebhookFailed('parse', service, `the endpoint answered something that is not JSON: ${text.slice(0, 200)}`);
    }
    return (parsed.instances ?? []).map((i) => ({
      id: String(i.id),
      service,
      release: String(i.release),
      url: String(i.url),
      startedAt: new Date().toISOString(),
    }));
  }
}
