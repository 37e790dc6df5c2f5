import type { EventStore } from '../event-store/event-store.js';
import { decodeStored } from '../events/catalogue.js';
import { toPoint } from '../../projections/health-windows.js';
import type { TimelineEntry } from './scorecard.js';
import { healthStream, serviceStream } from '../domain/streams.js';

/**
 * What the store recorded of a service since `sinceMs` that the report plots: every health sample
 * (error rate and P95 of the interval since the instance's previous probe, derived as the policy
 * derives them) and every rollback's start. Oldest first.
 */
export async function sampleTimeline(store: EventStore, service: string, sinceMs: number): Promise<TimelineEntry[]> {
  const entries: TimelineEntry[] = [];
  for await (const recorded of store.readStream(healthStream(service), { direction: 'backwards' })) {
    if (recorded.recordedAt.getTime() < sinceMs) break;
    const event = decodeStored(recorded);
    if (event.type !== 'HealthSampleRecorded') continue;
    const point = toPoint(event);
    if (point.at < sinceMs) continue;
    entries.push({
      at: point.at,
      kind: 'sample',
      label: `${event.data.instance} (${point.release ?? 'release unknown'})${point.healthy ? '' : ' unhealthy'}`,
      errorRate: point.errorRate,
      p95Ms: point.p95,
      instance: event.data.instance,
      release: point.release,
      healthy: point.healthy,
    });
  }
  for await (const recorded of store.readStream(serviceStream(service), { direction: 'backwards' })) {
    const at = recorded.recordedAt.getTime();
    if (at < sinceMs) break;
    const event = decodeStored(recorded);
    // Disabling a tool restarts the same release: not a rollback.
    if (event.type === 'RollbackStarted' && event.data.fromRelease !== event.data.toRelease)
      entries.push({ at, kind: 'rollback', label: `rollback ${event.data.fromRelease} → ${event.data.toRelease}` });
  }
  return entries.sort((a, b) => a.at - b.at);
}
