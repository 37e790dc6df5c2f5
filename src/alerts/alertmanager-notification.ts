import { v5 as uuidv5 } from 'uuid';
import { z } from 'zod';
import type { EventData } from '../events/catalogue.js';
import { alertFingerprint, serviceName } from '../events/common-schemas.js';

/** The most alerts one notification may carry: Alertmanager groups by alert name and service. */
export const MAX_ALERTS_PER_NOTIFICATION = 1000;

const labels = z.record(z.string(), z.string());
const instant = z.iso.datetime({ offset: true });

/**
 * Alertmanager's webhook payload, version 4 (its `webhook_configs` format). Fields Failsafe does
 * not use are accepted and ignored, so a newer Alertmanager adding some is not refused.
 */
export const alertmanagerNotification = z.object({
  version: z.literal('4', { error: 'must be "4" (Alertmanager webhook payload version 4)' }),
  receiver: z.string().min(1).max(200),
  status: z.enum(['firing', 'resolved']),
  groupKey: z.string().max(4096).optional(),
  alerts: z
    .array(
      z.object({
        status: z.enum(['firing', 'resolved']),
        labels: labels.refine((l) => typeof l.alertname === 'string' && l.alertname !== '', 'must name the alertname'),
        annotations: labels.default({}),
        startsAt: instant,
        endsAt: instant.optional(),
        generatorURL: z.string().max(2048).optional(),
        fingerprint: alertFingerprint,
      }),
    )
    .max(MAX_ALERTS_PER_NOTIFICATION),
});

export type AlertmanagerNotification = z.infer<typeof alertmanagerNotification>;

const ALERT_NAMESPACE = '8b0f3c52-6d1e-4a7f-9c2b-5e4d3a2f1b0c';

/**
 * The id of one alert's event: the same alert (fingerprint) in the same episode (startsAt) with
 * the same status always gets the same id, so Alertmanager's repeats and retries append nothing.
 */
export const alertEventId = (fingerprint: string, startsAt: string, status: string): string =>
  uuidv5(`alert:${fingerprint}:${Date.parse(startsAt)}:${status}`, ALERT_NAMESPACE);

/** Alertmanager's "no end" is its zero time (year 1): recorded as no end. */
const endOf = (endsAt: string | undefined) =>
  endsAt === undefined || Date.parse(endsAt) <= 0 ? undefined : new Date(endsAt).toISOString();

/** The AlertReceived events of a notification, with their ids, in the order Alertmanager sent them. */
export function alertsOf(
  notification: AlertmanagerNotification,
): { readonly id: string; readonly data: EventData<'AlertReceived'> }[] {
  return notification.alerts.map((alert) => {
    const service = serviceName.safeParse(alert.labels.service);
    const endsAt = endOf(alert.endsAt);
    return {
      id: alertEventId(alert.fingerprint, alert.startsAt, alert.status),
      data: {
        alertname: alert.labels.alertname!,
        ...(service.success && { service: service.data }),
        ...(alert.labels.severity && { severity: alert.labels.severity }),
        status: alert.status,
        fingerprint: alert.fingerprint,
        startsAt: new Date(alert.startsAt).toISOString(),
        ...(endsAt && { endsAt }),
        labels: alert.labels,
        annotations: alert.annotations,
        ...(alert.generatorURL && { generatorURL: alert.generatorURL }),
        receiver: notification.receiver,
      },
    };
  });
}
