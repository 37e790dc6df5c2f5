import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect } from '../src/event-store/event-store.contract.js';
import { SqliteEventStore } from '../src/event-store/sqlite-event-store.js';
import { decodeStored, encodeEvent, type DomainEvent } from '../src/events/catalogue.js';
import { MemoryCheckpointStore } from '../src/runtime/memory-checkpoint-store.js';
import { foldProjection } from '../src/runtime/projection.js';
import { ProjectionRunner } from '../src/runtime/projection-runner.js';
import { allProjections } from './all-projections.js';

const base = Date.UTC(2026, 10, 24, 10);
const services = ['alpha', 'beta'];
const iso = (offsetSeconds: number) => new Date(base + offsetSeconds * 1000).toISOString();
const ids = ['0195f2a4-8c1e-7d3a-9b2f-5e6d7c8b9a01'];

/** Random but valid events touching every projection, in any order (projections must cope). */
const anEvent = (): fc.Arbitrary<{ stream: string; event: DomainEvent; at: number }> => {
  const service = fc.constantFrom(...services);
  const at = fc.integer({ min: 0, max: 7200 });
  const release = fc.constantFrom('v1', 'v2', 'v3');
  const sample = fc
    .record({
      service,
      at,
      healthy: fc.boolean(),
      errors: fc.integer({ min: 0, max: 100 }),
      p95: fc.integer({ min: 1, max: 9000 }),
      mem: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map(({ service, at, healthy, errors, p95, mem }) => ({
      stream: `health-${service}`,
      at,
      event: {
        type: 'HealthSampleRecorded',
        data: {
          service,
          instance: `${service}-1`,
          sampledAt: iso(at),
          healthy,
          healthLatencyMs: 5,
          requests: { total: 100, errors },
          latencyMs: { p50: p95 / 2, p95, p99: p95 * 2 },
          memory: { usedRatio: mem },
        },
      } as DomainEvent,
    }));
  const serviceEvent = fc
    .record({ service, at, release, kind: fc.integer({ min: 0, max: 7 }), rb: fc.constantFrom('r-1', 'r-2') })
    .map(({ service, at, release, kind, rb }) => {
      const d = { deploymentId: `d-${release}`, service, release };
      const events: DomainEvent[] = [
        { type: 'DeploymentRequested', data: d },
        { type: 'DeploymentStarted', data: d },
        { type: 'DeploymentHealthy', data: d },
        {
          type: 'RollbackDecided',
          data: {
            rollbackId: rb,
            service,
            mode: 'automatic',
            rule: 'error_rate_critical',
            threshold: 0.1,
            observed: 0.2,
            evidenceEventIds: ids,
          },
        },
        { type: 'RollbackStarted', data: { rollbackId: rb, service, fromRelease: release, toRelease: 'v1' } },
        { type: 'RollbackCompleted', data: { rollbackId: rb, service, release: 'v1' } },
        {
          type: 'RollbackVerified',
          data: { rollbackId: rb, service, passed: true, checks: [{ name: 'health', passed: true }] },
        },
        { type: 'FeatureDisabled', data: { service, scope: 'tool', target: 'refund' } },
      ];
      return { stream: `service-${service}`, at, event: events[kind]! };
    });
  const migration = fc
    .record({ at, kind: fc.integer({ min: 0, max: 3 }), progress: fc.double({ min: 0, max: 1, noNaN: true }) })
    .map(({ at, kind, progress }) => {
      const m = { migrationId: 'm-1', service: 'alpha' };
      const events: DomainEvent[] = [
        {
          type: 'MigrationStarted',
          data: {
            ...m,
            name: 'apil',
            stages: ['legacy', 'dual_protocol', 'apil_primary', 'apil_only'],
            initialStage: 'legacy',
          },
        },
        { type: 'MigrationStageAdvanced', data: { ...m, fromStage: 'legacy', toStage: 'dual_protocol' } },
        {
          type: 'MigrationProgressRecorded',
          data: { ...m, stage: 'dual_protocol', progress, errorRate: progress / 5 },
        },
        { type: 'MigrationCompleted', data: { ...m, finalStage: 'apil_only' } },
      ];
      return { stream: 'migration-m-1', at, event: events[kind]! };
    });
  const drill = fc.record({ at, kind: fc.integer({ min: 0, max: 3 }) }).map(({ at, kind }) => {
    const events: DomainEvent[] = [
      { type: 'DrillStarted', data: { runId: 'run-1', drill: 'errors', trigger: 'manual' } },
      { type: 'DrillFaultInjected', data: { runId: 'run-1', fault: { kind: 'release', name: 'bad-release' } } },
      { type: 'DrillFaultHealed', data: { runId: 'run-1', name: 'bad-release' } },
      { type: 'DrillFinished', data: { runId: 'run-1', outcome: 'passed', timeToDetectMs: 1000 } },
    ];
    return { stream: 'drill-run-1', at, event: events[kind]! };
  });
  const tick = at.map((at) => ({
    stream: 'clock',
    at,
    event: { type: 'ClockTicked', data: { at: iso(at) } } as DomainEvent,
  }));
  return fc.oneof({ arbitrary: sample, weight: 4 }, serviceEvent, migration, drill, tick);
};

/** JSON round trip: the form a checkpoint stores, so `undefined` fields compare as absent. */
const plain = (value: unknown) => JSON.parse(JSON.stringify(value));

describe('projections', () => {
  it('reach the same state live (in chunks, restarted from checkpoints) as replayed from zero', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(anEvent(), { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 5 }),
        async (history, chunkSizes) => {
          const dir = mkdtempSync(join(tmpdir(), 'failsafe-prop-'));
          const store = SqliteEventStore.open({ path: join(dir, 'events.db'), livePollIntervalMs: 20 });
          const checkpoints = new MemoryCheckpointStore();
          try {
            const projections = allProjections(600);
            let next = 0;
            for (let round = 0; next < history.length; round += 1) {
              const size = chunkSizes[round % chunkSizes.length]!;
              const runners = projections.map(
                (p) => new ProjectionRunner(store, p, checkpoints, { checkpointEvery: 3 }),
              );
              await Promise.all(runners.map((r) => r.start()));
              for (const { stream, event, at } of history.slice(next, next + size)) {
                await store.append(
                  stream,
                  [encodeEvent(event, { actor: 'test', occurredAt: new Date(base + at * 1000) })],
                  'any',
                );
              }
              next += size;
              await Promise.all(runners.map((r) => r.catchUp(10_000)));
              await Promise.all(runners.map((r) => r.stop()));
            }
            const replayed = (await collect(store.readAll())).map(decodeStored);
            for (const projection of projections) {
              const resumed = await checkpoints.load(projection.name);
              expect(plain(resumed!.state), projection.name).toEqual(plain(foldProjection(projection, replayed)));
            }
          } finally {
            await store.close();
            rmSync(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 25 },
    );
  }, 120_000);
});
