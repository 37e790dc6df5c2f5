import { z } from 'zod';
import { alertFingerprint, label, serviceName, singleLine, timestamp } from './common-schemas.js';
import { defineEvent } from './define-event.js';

/** Label and annotation maps as Prometheus gives them: bounded, so one alert cannot bloat the store. */
const labelMap = (maxValue: number) =>
  z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be a Prometheus label name'),
      z.string().max(maxValue),
    )
    .refine((map) => Object.keys(map).length <= 64, 'must have at most 64 entries');

/**
 * One alert of an Alertmanager notification, as it was delivered: firing or resolved. `service` is
 * the alert's `service` label when it is a valid service name (the policy acts on it only if
 * Failsafe knows that service); every label is kept as sent.
 */
const alertReceived = z.strictObject({
  alertname: label,
  service: serviceName.optional(),
  severity: singleLine(32).optional(),
  status: z.enum(['firing', 'resolved']),
  /** Alertmanager's identity of the alert (a hash of its labels). */
  fingerprint: alertFingerprint,
  startsAt: timestamp,
  /** Absent while Alertmanager gives no end (its zero time). */
  endsAt: timestamp.optional(),
  labels: labelMap(1024),
  annotations: labelMap(4096),
  generatorURL: z.string().max(2048).optional(),
  /** The Alertmanager receiver that delivered it. */
  receiver: label,
});

export const alertEvents = [defineEvent('AlertReceived', alertReceived)] as const;
