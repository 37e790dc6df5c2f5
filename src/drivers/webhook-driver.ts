import { createHmac, randomUUID } from 'node:crypto';
import pRetry from 'p-retry';
import type { ActionContext, FeatureFlags, Instance, TargetDriver } from './target-driver.js';
import { systemClock, type Clock } from '../runtime/clock.js';

export interface WebhookDriverOptions {
  /** The user's deploy endpoint: Failsafe POSTs each action to it. */
  readonly url: string;
  /** Shared secret for the HMAC-SHA256 signature the endpoint must check. */
  readonly secret: string;
  readonly timeoutMs?: number;
  /** Attempts after the first, on a network error, a timeout, 429 or 5xx (default 3). */
  readonly retries?: number;
  /** First pause between attempts, doubled each time and each times a random 1 to 2 (default 500 ms). */
  readonly backoffMs?: number;
  readonly clock?: Clock;
}

export class WebhookFailed extends Error {
  readonly code = 'WEBHOOK_FAILED';
  constructor(
    readonly action: string,
    readonly service: string,
    detail: string,
  ) {
    super(`WebhookFailed: ${action} of ${service}: ${detail}`);
    this.name = 'WebhookFailed';
  }
}

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

  setFeatureFlags(service: string, flags: FeatureFlags, action?: ActionContext): Promise<Instance[]> {
    const { tools, agents, legacyMode } = flags;
    const details = { disabledTools: [...tools], disabledAgents: [...agents], legacyMode };
    return this.call('set-feature-flags', service, details, action);
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
    let attempts = 0;
    const stop = context?.signal ? [context.signal] : [];
    const attempt = async (): Promise<Instance[]> => {
      attempts += 1;
      const timestamp = String((this.options.clock ?? systemClock).now().getTime());
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
          signal: AbortSignal.any([AbortSignal.timeout(this.options.timeoutMs ?? 30_000), ...stop]),
        });
      } catch (error) {
        throw new Error(`attempt ${attempts}: ${(error as Error).message}`);
      }
      const text = await response.text();
      if (response.ok) return this.instancesFrom(service, text);
      const failure = `attempt ${attempts}: HTTP ${response.status} ${text.slice(0, 500)}`;
      if (response.status === 429 || response.status >= 500) throw new Error(failure);
      throw new WebhookFailed(action, service, `${failure} (not retried: the endpoint refused the request)`);
    };
    try {
      // Jitter (randomize: each pause times 1 to 2) keeps several Failsafes from retrying in step.
      return await pRetry(attempt, {
        retries: this.options.retries ?? 3,
        minTimeout: this.options.backoffMs ?? 500,
        factor: 2,
        randomize: true,
        shouldRetry: ({ error }) => !(error instanceof WebhookFailed),
        ...(context?.signal && { signal: context.signal }),
      });
    } catch (error) {
      if (error instanceof WebhookFailed) throw error;
      if (context?.signal?.aborted)
        throw new WebhookFailed(
          action,
          service,
          `stopped after ${attempts} attempts: ${String(context.signal.reason)}`,
        );
      throw new WebhookFailed(action, service, `gave up after ${attempts} attempts; last ${(error as Error).message}`);
    }
  }

  private instancesFrom(service: string, text: string): Instance[] {
    let parsed: { instances?: { id?: unknown; release?: unknown; url?: unknown }[] };
    try {
      parsed = text ? (JSON.parse(text) as typeof parsed) : {};
    } catch {
      throw new WebhookFailed(
        'parse',
        service,
        `the endpoint answered something that is not JSON: ${text.slice(0, 200)}`,
      );
    }
    return (parsed.instances ?? []).map((i) => ({
      id: String(i.id),
      service,
      release: String(i.release),
      url: String(i.url),
      startedAt: (this.options.clock ?? systemClock).now().toISOString(),
    }));
  }
}
