import { Hono } from 'hono';
import type { z } from 'zod';
import { alertmanagerNotification, alertsOf } from '../alerts/alertmanager-notification.js';
import { InvalidRequest, statusOf, UnsupportedMediaType } from '../api/api-errors.js';
import { authorize } from '../auth/roles.js';
import { ALERT_STREAM } from '../domain/streams.js';
import { InvalidEvent } from '../event-store/errors.js';
import type { EventStore, NewEvent } from '../event-store/event-store.js';
import { encodeEvent } from '../events/catalogue.js';
import { errorResponse, methodNotAllowed, type ApiEnv } from './rest-api.js';

export const ALERTMANAGER_WEBHOOK_PATH = '/alerts/alertmanager';

const problemsOf = (error: z.ZodError) =>
  error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`);

function notificationOf(text: string, contentType: string): z.infer<typeof alertmanagerNotification> {
  if (!/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(contentType))
    throw new UnsupportedMediaType(contentType || 'without a Content-Type');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new InvalidRequest([`the body is not JSON (${(error as Error).message})`]);
  }
  const parsed = alertmanagerNotification.safeParse(body);
  if (!parsed.success)
    throw new InvalidRequest([
      'the body is not an Alertmanager webhook notification (version 4)',
      ...problemsOf(parsed.error),
    ]);
  return parsed.data;
}

/**
 * Alertmanager's webhook receiver: each alert of a notification becomes an AlertReceived event
 * (authenticated before this route, with a token allowed to report alerts; size-limited by the
 * app's body limit). Every alert is validated before anything is written, so a bad notification
 * writes nothing. Each alert's id comes from its fingerprint, start and status: a repeated or
 * retried notification writes nothing new, and one cut short by a failure is completed by
 * Alertmanager's retry.
 */
export function alertmanagerWebhook(store: EventStore, now: () => Date, log: (line: string) => void): Hono<ApiEnv> {
  const webhook = new Hono<ApiEnv>();
  webhook.post('/', async (c) => {
    const principal = c.get('principal');
    authorize(principal, 'report_alerts');
    const notification = notificationOf(await c.req.text(), c.req.header('content-type') ?? '');
    const occurredAt = now();
    let events: NewEvent[];
    try {
      events = alertsOf(notification).map(({ id, data }) =>
        encodeEvent({ type: 'AlertReceived', data }, { actor: principal.name, occurredAt, id }),
      );
    } catch (error) {
      if (!(error instanceof InvalidEvent)) throw error;
      throw new InvalidRequest(error.problems.map((p) => `${p.path}: ${p.message}`));
    }
    // One append per alert: a repeated notification holds alerts already recorded beside new ones.
    for (const event of events) await store.append(ALERT_STREAM, [event], 'any');
    return c.json({ recorded: events.length, eventIds: events.map((e) => e.id) }, 200);
  });
  webhook.all('/', (c) => methodNotAllowed(c, ['POST']));
  webhook.onError((error, c) => {
    if (statusOf(error) === 500) log(`alerts: ${c.req.method} ${c.req.path} failed: ${error.stack ?? error.message}`);
    return errorResponse(c, error);
  });
  return webhook;
}
