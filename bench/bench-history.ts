import type { NewEvent } from '../src/event-store/event-store.js';
import type { SqliteEventStore } from '../src/event-store/sqlite-event-store.js';
import { encodeEvent, type DomainEvent } from '../src/events/catalogue.js';
import { CLOCK_STREAM, healthStream, serviceStream } from '../src/domain/streams.js';
import { healthSampleEvent } from './health-sample-events.js';

const base = Date.UTC(2026, 10, 24);

/** Every twentieth event is not a sample: deployments, rollbacks, migration progress, drill steps, ticks. */
function otherEvent(n: number, services: number): { stream: string; event: NewEvent } {
  const service = `svc-${n % services}`;
  const occurredAt = new Date(base + Math.floor(n / services) * 1000);
  const kinds: DomainEvent[] = [
    { type: 'DeploymentRequested', data: { deploymentId: `d-${n}`, service, release: `v${n}` } },
    { type: 'DeploymentStarted', data: { deploymentId: `d-${n}`, service, release: `v${n}` } },
    {
      type: 'MigrationProgressRecorded',
      data: { migrationId: `m-${n % services}`, service, stage: 'dual_protocol', progress: 0.5, errorRate: 0.01 },
    },
    { type: 'DrillStepRecorded', data: { runId: `run-${n % 7}`, step: 'steady-state', status: 'passed' } },
    { type: 'ClockTicked', data: { at: occurredAt.toISOString() } },
  ];
  const event = kinds[n % kinds.length]!;
  const stream = event.type.startsWith('Deployment')
    ? serviceStream(service)
    : event.type === 'ClockTicked'
      ? CLOCK_STREAM
      : `other-${n % services}`;
  return { stream, event: encodeEvent(event, { actor: 'bench', occurredAt }) };
}

export interface HistoryOptions {
  readonly services: number;
  /**
   * Samples in their services' health streams, as Failsafe writes them (one append per stream in each
   * thousand events, so each service's samples stay in order): slower to write. Else every thousand
   * events go to one of a hundred streams.
   */
  readonly healthStreams: boolean;
  readonly onProgress?: (written: number) => void;
}

/** Writes a history of `total` events, 95 % health samples at one a second per service. */
export async function writeHistory(store: SqliteEventStore, total: number, options: HistoryOptions): Promise<void> {
  const { services } = options;
  for (let written = 0; written < total; written += 1000) {
    const batch: [stream: string, event: NewEvent][] = [];
    for (let n = written; n < Math.min(total, written + 1000); n += 1) {
      if (n % 20 === 19) {
        const { stream, event } = otherEvent(n, services);
        batch.push([stream, event]);
      } else
        batch.push([healthStream(`svc-${n % services}`), healthSampleEvent(n % services, Math.floor(n / services))]);
    }
    if (options.healthStreams) {
      const byStream = new Map<string, NewEvent[]>();
      for (const [stream, event] of batch) byStream.set(stream, [...(byStream.get(stream) ?? []), event]);
      for (const [stream, events] of byStream) await store.append(stream, events, 'any');
    } else
      await store.append(
        `history-${(written / 1000) % 100}`,
        batch.map(([, event]) => event),
        'any',
      );
    if ((written + 1000) % 250_000 === 0) options.onProgress?.(written + 1000);
  }
}
