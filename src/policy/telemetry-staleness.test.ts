import { describe, expect, it } from 'vitest';
import { recordedEvent } from '../../projections/recorded-event.fixture.js';
import { givenHistory } from '../domain/given-when-then.js';
import type { DomainEvent } from '../events/catalogue.js';
import { telemetryWatchProjection, type TelemetryWatchState } from './telemetry-watcher.js';
import { telemetryStream } from '../domain/streams.js';

const t0 = Date.UTC(2026, 10, 24, 10);
const iso = (seconds: number) => new Date(t0 + seconds * 1000).toISOString();
const at = (seconds: number, stream: string, event: DomainEvent, revision?: number) =>
  recordedEvent(event, { stream, occurredAt: iso(seconds), ...(revision !== undefined && { revision }) });

const tick = (s: number) => at(s, 'clock', { type: 'ClockTicked', data: { at: iso(s) } });
const registered = (s: number, service = 'orders') =>
  at(s, `service-${service}`, { type: 'ServiceRegistered', data: { service, source: 'fleet' } });
const sample = (s: number, service = 'orders') =>
  at(s, `health-${service}`, {
    type: 'HealthSampleRecorded',
    data: { service, instance: `${service}-1`, sampledAt: iso(s), healthy: true, healthLatencyMs: 3 },
  });
const staleRecorded = (detectedAt: number, lastSampleAt: number, revision = 0) =>
  at(
    detectedAt,
    telemetryStream('orders'),
    {
      type: 'TelemetryStale',
      data: {
        service: 'orders',
        lastSampleAt: iso(lastSampleAt),
        silentSince: iso(lastSampleAt),
        staleAfterSeconds: 30,
        detectedAt: iso(detectedAt),
      },
    },
    revision,
  );

/** orders pushes its telemetry; payments is probed. */
const watch = telemetryWatchProjection({ services: ['orders'], staleAfterSeconds: 30 });
const decided = (state: TelemetryWatchState) => state.decisions.map((d) => d.event);

describe('stale telemetry', () => {
  it('is found once a pushing service has sent nothing for more than staleAfterSeconds of recorded time', () => {
    givenHistory(watch, registered(0), sample(5))
      .when(tick(10), tick(30), tick(35), tick(40))
      .then(decided, [
        {
          type: 'TelemetryStale',
          data: {
            service: 'orders',
            lastSampleAt: iso(5),
            silentSince: iso(5),
            staleAfterSeconds: 30,
            detectedAt: iso(40),
          },
        },
      ]);
  });

  it('counts from the registration before any sample, and judges no service that nothing says exists', () => {
    givenHistory(watch, registered(0))
      .when(tick(30), tick(31))
      .then(decided, [
        {
          type: 'TelemetryStale',
          data: { service: 'orders', silentSince: iso(0), staleAfterSeconds: 30, detectedAt: iso(31) },
        },
      ]);
    const ghost = telemetryWatchProjection({ services: ['ghost'], staleAfterSeconds: 30 });
    givenHistory(ghost, registered(0)).when(tick(600)).then(decided, []);
  });

  it('leaves a probed service alone, however long its samples stop', () => {
    givenHistory(watch, registered(0, 'payments'), sample(5, 'payments'), registered(0), sample(595))
      .when(tick(600))
      .then(decided, []);
  });

  it('decides again at every judgement until recorded, against the stream revision it saw', () => {
    const history = [registered(0), sample(5)];
    givenHistory(watch, ...history)
      .when(tick(40), tick(50), sample(51, 'payments'), staleRecorded(40, 5), tick(60))
      .then(
        (state) => state.decisions.map((d) => [d.eventId, d.expectedRevision] as const),
        [
          [expect.any(String), -1],
          [expect.any(String), -1],
        ],
      );
    // Ids come from the tipping event: the same history decides the same ids, another tick another id.
    const ids = (...events: ReturnType<typeof tick>[]) => {
      const state = events.reduce((s, e) => watch.apply(s, e), watch.initialState);
      return state.decisions.map((d) => d.eventId);
    };
    const forty = tick(40);
    expect(ids(...history, forty)).toEqual(ids(...history, forty));
    expect(ids(...history, forty)).not.toEqual(ids(...history, tick(40)));
  });

  it('resumes on a fresh sample, not on an old one delivered late', () => {
    givenHistory(watch, registered(0), sample(5), tick(40), staleRecorded(40, 5), tick(100))
      .when(sample(50), tick(101), sample(90))
      .then(decided, [
        { type: 'TelemetryResumed', data: { service: 'orders', staleSince: iso(40), resumedAt: iso(101) } },
      ]);
  });

  it('ends a recorded staleness of a service no longer watched (its fleet entry went back to probe)', () => {
    const probedNow = telemetryWatchProjection({ services: [], staleAfterSeconds: 30 });
    givenHistory(probedNow, registered(0), sample(5), staleRecorded(40, 5))
      .when(tick(50))
      .then(decided, [
        { type: 'TelemetryResumed', data: { service: 'orders', staleSince: iso(40), resumedAt: iso(50) } },
      ]);
  });
});
