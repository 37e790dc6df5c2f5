import { z } from 'zod';
import { serviceName, timestamp } from './common-schemas.js';
import { defineEvent } from './define-event.js';

/**
 * A service that pushes its own telemetry went quiet: no sample for `staleAfterSeconds` of recorded
 * time. An incident, never a reason to roll back: silence says nothing about the release.
 */
const telemetryStale = z.strictObject({
  service: serviceName,
  /** The newest sample's time; absent when none has ever arrived. */
  lastSampleAt: timestamp.optional(),
  /** Where the silence is counted from: the last sample, or the service's registration before any. */
  silentSince: timestamp,
  staleAfterSeconds: z.number().int().positive(),
  detectedAt: timestamp,
});

/** A fresh sample of a service whose telemetry was stale arrived: the incident is over. */
const telemetryResumed = z.strictObject({
  service: serviceName,
  /** When the telemetry was found stale (the `detectedAt` it ends). */
  staleSince: timestamp,
  /** When fresh samples were seen again, in recorded time (ticks and samples' times, never the wall clock). */
  resumedAt: timestamp,
});

export const telemetryEvents = [
  defineEvent('TelemetryStale', telemetryStale),
  defineEvent('TelemetryResumed', telemetryResumed),
] as const;
