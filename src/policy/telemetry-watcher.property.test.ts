import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DomainEvent, TypedRecordedEvent } from '../events/catalogue.js';
import { telemetryWatchProjection, type TelemetryWatchState } from './telemetry-watcher.js';
import { telemetryStream } from '../domain/streams.js';

const t0 = Date.UTC(2026, 10, 24, 10);
const settings = { services: ['orders', 'billing'], staleAfterSeconds: 30 };
const projection = telemetryWatchProjection(settings);

/** A store in memory: one ordered log, a revision per stream, appends at an expected revision. */
class Log {
  readonly events: TypedRecordedEvent[] = [];
  private readonly revisions = new Map<string, number>();

  append(stream: string, event: DomainEvent, at: number, id?: string, expected?: number): boolean {
    const revision = this.revisions.get(stream) ?? -1;
    if (expected !== undefined && expected !== revision) return false;
    this.revisions.set(stream, revision + 1);
    const position = this.events.length + 1;
    this.events.push({
      ...event,
      id: id ?? `0195f2a4-8c1e-7d3a-9b2f-${position.toString(16).padStart(12, '0')}`,
      stream,
      revision: BigInt(revision + 1),
      position: BigInt(position),
      recordedAt: new Date(at),
      metadata: {
        correlationId: null,
        causationId: null,
        actor: 't',
        schemaVersion: 1,
        occurredAt: new Date(at).toISOString(),
      },
    } as unknown as TypedRecordedEvent);
    return true;
  }
}

/** One replica's watcher: it follows the log at its own pace and appends what it decides. */
class Watcher {
  private state: TelemetryWatchState = projection.initialState;
  private next = 0;
  constructor(private readonly log: Log) {}

  follow(count: number): void {
    for (let i = 0; i < count && this.next < this.log.events.length; i += 1) {
      this.state = projection.apply(this.state, this.log.events[this.next]!);
      this.next += 1;
      for (const d of this.state.decisions)
        this.log.append(telemetryStream(d.service), d.event, Date.parse(d.decidedAt), d.eventId, d.expectedRevision);
    }
  }
}

const step = fc.record({
  kind: fc.constantFrom('tick', 'sample', 'late-sample'),
  service: fc.constantFrom('orders', 'billing', 'payments'),
  seconds: fc.integer({ min: 1, max: 45 }),
  paces: fc.tuple(fc.nat(3), fc.nat(3)),
});

describe('the stale-telemetry watcher, replayed', () => {
  it('records each change once whatever the replicas’ pace, and a replay decides exactly what was recorded', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 80 }), (steps) => {
        const log = new Log();
        const replicas = [new Watcher(log), new Watcher(log)];
        for (const service of ['orders', 'billing', 'payments'])
          log.append(`service-${service}`, { type: 'ServiceRegistered', data: { service, source: 'fleet' } }, t0);
        let now = t0;
        for (const { kind, service, seconds, paces } of steps) {
          now += seconds * 1000;
          const at = new Date(kind === 'late-sample' ? now - 60_000 : now).toISOString();
          const event: DomainEvent =
            kind === 'tick'
              ? { type: 'ClockTicked', data: { at } }
              : {
                  type: 'HealthSampleRecorded',
                  data: { service, instance: `${service}-1`, sampledAt: at, healthy: true, healthLatencyMs: 1 },
                };
          log.append(kind === 'tick' ? 'clock' : `health-${service}`, event, now);
          for (const [i, replica] of replicas.entries()) replica.follow(paces[i]!);
        }
        for (const replica of replicas) replica.follow(Number.POSITIVE_INFINITY);

        const recorded = log.events.filter((e) => e.type.startsWith('Telemetry'));
        for (const service of ['orders', 'billing', 'payments']) {
          const types = recorded.filter((e) => (e.data as { service: string }).service === service).map((e) => e.type);
          // Alternating, starting stale: never raised twice, never resumed without having been stale.
          for (const [i, type] of types.entries()) expect(type).toBe(i % 2 ? 'TelemetryResumed' : 'TelemetryStale');
          if (service === 'payments') expect(types).toEqual([]);
        }
        for (const e of recorded)
          if (e.type === 'TelemetryStale')
            expect(Date.parse(e.data.detectedAt) - Date.parse(e.data.silentSince)).toBeGreaterThan(30_000);

        // A replay from zero: the first decision made against each stream revision is the one recorded.
        let state = projection.initialState;
        const claimed = new Set<string>();
        const replayed: string[] = [];
        for (const event of log.events) {
          state = projection.apply(state, event);
          for (const d of state.decisions) {
            const slot = `${d.service}@${d.expectedRevision}`;
            if (!claimed.has(slot)) replayed.push(d.eventId);
            claimed.add(slot);
          }
        }
        expect(replayed).toEqual(recorded.map((e) => e.id));
      }),
      { numRuns: 300 },
    );
  });
});
