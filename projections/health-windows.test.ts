import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DomainEvent, TypedRecordedEvent } from '../src/events/catalogue.js';
import { recordedEvent } from './recorded-event.fixture.js';
import { foldProjection } from '../src/runtime/projection.js';
import {
  healthWindowsProjection,
  latenciesOf,
  latencyOf,
  openSinceOf,
  type SamplePoint,
  type ServiceHealth,
} from './health-windows.js';

const recorded = (event: DomainEvent) => recordedEvent(event, { stream: 's', actor: 't' });
const sample = (release: string, seconds: number): TypedRecordedEvent =>
  recorded({
    type: 'HealthSampleRecorded',
    data: {
      service: 'svc',
      instance: 'i',
      release,
      sampledAt: new Date(Date.UTC(2026, 10, 24, 10, 0, seconds)).toISOString(),
      healthy: true,
      healthLatencyMs: 1,
    },
  });

describe('health windows', () => {
  it('start afresh with a new release and leave out late samples of the previous one', () => {
    const started = recorded({
      type: 'DeploymentStarted',
      data: { deploymentId: 'd-2', service: 'svc', release: 'v2' },
    });
    const state = foldProjection(healthWindowsProjection(600), [
      sample('v1', 1),
      started,
      sample('v1', 2),
      sample('v2', 3),
      sample('v2', 4),
    ]);
    expect(state.services.svc!.release).toBe('v2');
    expect(state.services.svc!.samples.map((s) => s.release)).toEqual(['v2', 'v2']);
  });

  it('go on with the serving release after a deployment fails, counting its samples taken meanwhile', () => {
    const d3 = { deploymentId: 'd-3', service: 'svc', release: 'v3' };
    const events = [
      sample('v2', 1),
      recorded({ type: 'DeploymentStarted', data: d3 }),
      sample('v2', 2),
      recorded({ type: 'DeploymentFailed', data: { ...d3, reason: 'exited before it was ready' } }),
      sample('v2', 3),
    ];
    const state = foldProjection(healthWindowsProjection(600), events);
    expect(state.services.svc!.release).toBeUndefined();
    expect(state.services.svc!.samples.map((s) => s.at % 60_000)).toEqual([1000, 2000, 3000]);
    expect(state.services.svc!.replaced).toBeUndefined();
  });
});

describe('an open circuit breaker', () => {
  const breaker = (seconds: number, open: string[]) => {
    const event = sample('v1', seconds);
    return { ...event, data: { ...event.data, openCircuitBreakers: open } } as TypedRecordedEvent;
  };
  const health = (events: TypedRecordedEvent[]): ServiceHealth =>
    foldProjection(healthWindowsProjection(600), events).services.svc!;
  const since = (events: TypedRecordedEvent[], breaker = 'refund') => openSinceOf(health(events), breaker)?.at;
  const at = (seconds: number) => Date.UTC(2026, 10, 24, 10, 0, seconds);

  it('is known open since the first sample of its run, even once that sample is no longer kept', () => {
    const events = [breaker(0, []), breaker(10, ['refund']), breaker(700, ['refund', 'ledger'])];
    events.push(breaker(1400, ['refund', 'ledger']));
    expect(health(events).samples.map((s) => s.at)).toEqual([at(1400)]);
    expect(since(events)).toBe(at(10));
    expect(since(events, 'ledger')).toBe(at(700));
  });

  it('may be named as an object key is (__proto__, toString), and survives a checkpoint', () => {
    const events = [breaker(1, ['__proto__', 'toString']), breaker(2, ['toString', '__proto__'])];
    const restored = JSON.parse(JSON.stringify(health(events))) as ServiceHealth;
    expect(openSinceOf(restored, '__proto__')?.at).toBe(at(1));
    expect(openSinceOf(restored, 'toString')?.at).toBe(at(1));
    expect(openSinceOf(restored, 'constructor')).toBeUndefined();
  });

  it('restarts after a sample without it (a late one too), starts earlier with a late one with it', () => {
    expect(since([breaker(1, ['refund']), breaker(3, ['refund']), breaker(4, ['refund']), breaker(2, [])])).toBe(at(3));
    expect(since([breaker(1, []), breaker(3, ['refund']), breaker(2, ['refund'])])).toBe(at(2));
    expect(health([breaker(1, ['refund']), breaker(2, [])]).openSince).toBeUndefined();
  });
});

describe("a drill's samples", () => {
  it('judge nothing once the drill on the service has ended: its windows start afresh, same release', () => {
    const finished = (service?: string) =>
      recorded({ type: 'DrillFinished', data: { runId: 'run-1', outcome: 'passed', ...(service && { service }) } });
    const state = foldProjection(healthWindowsProjection(600), [
      sample('v1', 1),
      sample('v1', 2),
      finished('other'),
      finished(),
    ]);
    expect(state.services.svc!.samples).toHaveLength(2);
    const after = foldProjection(healthWindowsProjection(600), [sample('v1', 1), finished('svc'), sample('v1', 3)]);
    expect(after.services.svc!.samples.map((s) => s.at % 60_000)).toEqual([3000]);
  });
});

describe('window latency', () => {
  const point = (p95: number, requests: number) =>
    ({ id: 'x', at: 0, healthy: true, release: 'v', requests, p95, openBreakers: [] }) as unknown as SamplePoint;

  it('rises as soon as more than 5 % of the requests were slow, however many fast ones came before', () => {
    const fast = Array.from({ length: 59 }, () => point(10, 100));
    expect(latencyOf([...fast, point(6000, 200)], 'p95')).toBe(10);
    expect(latencyOf([...fast, point(6000, 400)], 'p95')).toBe(6000);
  });

  it('is the plain percentile of one scrape, and undefined without any', () => {
    expect(latencyOf([point(42, 7)], 'p95')).toBe(42);
    expect(latencyOf([], 'p95')).toBeUndefined();
  });
});

describe('window percentiles', () => {
  const scrape = (p50: number, p95: number, p99: number, requests: number) =>
    ({ id: 'x', at: 0, healthy: true, requests, p50, p95, p99, openBreakers: [] }) as unknown as SamplePoint;

  /** The definition, by sorting: the smallest scrape value that the given share of requests stayed under. */
  const bySorting = (samples: SamplePoint[], key: 'p50' | 'p95' | 'p99', share: number) => {
    const points = samples
      .map((s) => ({ value: s[key]!, weight: s.requests! > 0 ? s.requests! : 1 }))
      .sort((a, b) => a.value - b.value);
    const total = points.reduce((sum, p) => sum + p.weight, 0);
    let covered = 0;
    return points.find((p) => (covered += p.weight) >= share * total)?.value;
  };

  it('gives P50 and P99 beside P95, each from its own scrape percentile', () => {
    const window = [...Array.from({ length: 98 }, () => scrape(20, 80, 150, 10)), scrape(900, 4000, 9000, 20)];
    expect(latenciesOf(window)).toEqual({ p50: 20, p95: 80, p99: 9000 });
    expect(latenciesOf([])).toEqual({});
  });

  it('equals the sorted definition for any window', () => {
    const ms = fc.integer({ min: 0, max: 50 });
    const windows = fc.array(fc.tuple(ms, ms, ms, fc.integer({ min: 0, max: 500 })), { minLength: 1, maxLength: 80 });
    fc.assert(
      fc.property(windows, (rows) => {
        const samples = rows.map(([a, b, c, requests]) => scrape(a, b, c, requests));
        const [p50, p95, p99] = [
          bySorting(samples, 'p50', 0.5),
          bySorting(samples, 'p95', 0.95),
          bySorting(samples, 'p99', 0.99),
        ];
        expect(latenciesOf(samples)).toEqual({ p50, p95, p99 });
      }),
    );
  });
});
