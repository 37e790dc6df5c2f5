import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTraffic, type Traffic } from '../../drills/sample-fleet/traffic.js';
import { RollbackProcessManager } from '../policy/rollback-process-manager.js';
import { handleCommand, loadStream } from '../application/command-handler.js';
import { registerServices } from '../application/register-services.js';
import { isRollbackActive } from '../domain/service.js';
import { serviceDecider } from '../domain/service-decider.js';
import { ProcessDriver } from '../drivers/process-driver.js';
import { collect } from '../event-store/event-store.contract.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { defaultRollbackPolicy, type PolicyRule, type RollbackPolicy } from '../policy/rollback-policy.js';
import { HealthProber } from '../probing/health-prober.js';
import { MemoryCheckpointStore } from '../runtime/memory-checkpoint-store.js';
import { ServiceReconciler } from './service-reconciler.js';
import { serviceStream } from '../domain/streams.js';

const releasesDir = fileURLToPath(new URL('../../drills/sample-fleet/releases/', import.meta.url));

/** Failsafe's moving parts on one store, acting on real sample server processes, probing every second. */
describe('deploying to a real fleet (end to end)', () => {
  let dir: string;
  let store: SqliteEventStore;
  let driver: ProcessDriver;
  let parts: { stop(): Promise<void> }[];
  let running: Traffic | undefined;

  const start = async (policy: RollbackPolicy) => {
    const manager = new RollbackProcessManager(store, policy, new MemoryCheckpointStore());
    const prober = new HealthProber(store, driver, { services: ['sample'], intervalMs: 1_000 });
    const reconciler = new ServiceReconciler(store, driver, {
      verificationWindowMs: 1_000,
      retryDelayMs: 200,
      probeTools: { sample: 'time' },
    });
    await registerServices(store, ['sample'], { actor: 'test', now: new Date(), source: 'fleet' });
    await manager.start();
    await prober.start();
    await reconciler.start();
    parts = [reconciler, prober, manager];
  };

  const deploy = async (deploymentId: string, release: string) => {
    await handleCommand(
      store,
      serviceStream('sample'),
      serviceDecider,
      { type: 'RequestDeployment', service: 'sample', deploymentId, release, now: new Date() },
      { actor: 'alice', now: new Date() },
    );
    return waitFor(
      (types) => types.some((t) => t === 'DeploymentHealthy' || t === 'DeploymentFailed'),
      (e) => (e.data as { deploymentId?: string }).deploymentId === deploymentId,
    );
  };

  /** Waits until the service stream satisfies `done`, looking only at events that pass `filter`. */
  const waitFor = async (
    done: (types: string[]) => boolean,
    filter: (e: { type: string; data: Record<string, unknown> }) => boolean = () => true,
    timeoutMs = 75_000,
  ) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const events = (await collect(store.readStream(serviceStream('sample')))).filter(filter);
      if (done(events.map((e) => e.type))) return events;
      if (Date.now() > deadline) {
        const samples = (await collect(store.readStream('health-sample'))).map((e) =>
          JSON.stringify([e.data.release, e.data.requests, e.data.latencyMs]),
        );
        throw new Error(
          'timed out; stream so far:\n' +
            `${events.map((e) => `${e.type} ${JSON.stringify(e.data).slice(0, 200)}`).join('\n')}` +
            `\nSAMPLES\n${samples.join('\n')}`,
        );
      }
      await sleep(200);
    }
  };

  const traffic = (tool?: string, args?: Record<string, unknown>) => {
    running = startTraffic(() => driver.address('sample'), tool, args);
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-e2e-'));
    store = SqliteEventStore.open({ path: join(dir, 'events.db'), livePollIntervalMs: 50 });
    driver = await ProcessDriver.start({
      services: { sample: { releasesDir, port: 0 } },
      stateDir: join(dir, 'state'),
    });
  });
  afterEach(async () => {
    await running?.stop();
    for (const part of parts) await part.stop();
    await driver.stopAll();
    await driver.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rolls a release with a high error rate back to the last known good one, and verifies it', async () => {
    await start(defaultRollbackPolicy);
    await deploy('d-1', 'v1.0.0');
    traffic();
    await deploy('d-2', 'v2.0.0-errors');
    const story = await waitFor((types) => types.includes('RollbackVerified'));
    expect(story.map((e) => e.type)).toEqual([
      'ServiceRegistered',
      'DeploymentRequested',
      'DeploymentStarted',
      'DeploymentHealthy',
      'DeploymentRequested',
      'DeploymentStarted',
      'DeploymentHealthy',
      'RollbackDecided',
      'RollbackStarted',
      'RollbackCompleted',
      'DeploymentRolledBack',
      'RollbackVerified',
    ]);
    expect(story[7]!.data).toMatchObject({ rule: 'error_rate_critical', mode: 'automatic', targetRelease: 'v1.0.0' });
    expect(story[11]!.data).toMatchObject({ passed: true });
    expect((await driver.instances('sample')).map((i) => i.release)).toEqual(['v1.0.0']);
  }, 120_000);

  it.each([
    ['v2.0.0-slow', 'latency_p95_critical'],
    ['v2.0.0-leak', 'memory_critical'],
    ['v2.0.0-protocol', 'protocol_compatibility'],
  ])(
    'rolls %s back when %s fires',
    async (release, rule) => {
      await start(defaultRollbackPolicy);
      await deploy('d-1', 'v1.0.0');
      traffic();
      await deploy('d-2', release);
      const story = await waitFor((types) => types.includes('RollbackCompleted'));
      const decided = story.find((e) => e.type === 'RollbackDecided')!;
      expect(decided.data).toMatchObject({ rule, mode: 'automatic', targetRelease: 'v1.0.0' });
      expect((await driver.instances('sample')).map((i) => i.release)).toEqual(['v1.0.0']);
    },
    120_000,
  );

  it('hands a rollback that did not bring the service back to a person, and leaves no decision hanging', async () => {
    // Latency rolls back at once; a sustained error rate (15 s) only once the restored release has been judged.
    const latency = defaultRollbackPolicy.rules.latency_p95_critical!;
    const errors: PolicyRule = {
      when: 'error_rate',
      threshold: 0.1,
      windowSeconds: 10,
      forSeconds: 15,
      action: 'automatic_rollback',
    };
    const rules = { latency_p95_critical: latency, error_rate_sustained: errors };
    await start({ ...defaultRollbackPolicy, rules });
    // No traffic yet, so nothing judges this release: it becomes the last known good one, a bad one.
    await deploy('d-1', 'v2.0.0-errors');
    await deploy('d-2', 'v2.0.0-slow');
    traffic();
    const escalated = (e: { type: string }) => e.type === 'RollbackEscalated';
    const story = await waitFor((types) => types.length === 2, escalated, 110_000);
    const stream = await collect(store.readStream(serviceStream('sample')));
    const [first, second] = stream.filter((e) => e.type === 'RollbackDecided');
    expect(first!.data).toMatchObject({ rule: 'latency_p95_critical', targetRelease: 'v2.0.0-errors' });
    // The restored release fails its verification: the policy escalates it.
    const verified = stream.find((e) => e.type === 'RollbackVerified')!;
    expect(verified.data).toMatchObject({ rollbackId: first!.data.rollbackId, passed: false });
    const failedVerification = expect.stringMatching(/verification failed: error_rate/);
    expect(story[0]!.data).toMatchObject({ rollbackId: first!.data.rollbackId, reason: failedVerification });
    // Then the policy decides again, with nothing left to roll back to: escalated in the same append.
    expect(second!.data).toMatchObject({ rule: 'error_rate_sustained' });
    const [, stuck] = stream.filter(escalated);
    const nothingLeft = expect.stringMatching(/nothing to roll back to/);
    expect(stuck!.data).toMatchObject({ rollbackId: second!.data.rollbackId, reason: nothingLeft });
    expect(stuck!.position).toBe(second!.position + 1n);
    const { state } = await loadStream(store, serviceStream('sample'), serviceDecider);
    expect(isRollbackActive(state)).toBe(false);
  }, 180_000);

  it('leaves the last known good release serving when a release crashes at start', async () => {
    await start(defaultRollbackPolicy);
    await deploy('d-1', 'v1.0.0');
    const events = await deploy('d-2', 'v2.0.0-crash');
    expect(events.map((e) => e.type)).toEqual(['DeploymentRequested', 'DeploymentStarted', 'DeploymentFailed']);
    expect(events[2]!.data.reason).toMatch(/ReleaseNotReady: sample v2.0.0-crash exited/);
    expect((await driver.instances('sample')).map((i) => i.release)).toEqual(['v1.0.0']);
    // What is recorded is what serves.
    const { state } = await loadStream(store, serviceStream('sample'), serviceDecider);
    expect(state).toMatchObject({ currentRelease: 'v1.0.0', currentReleaseHealthy: true });
    expect(state.deployment).toMatchObject({ id: 'd-2', status: 'failed' });
  }, 120_000);

  it('disables the tool whose circuit breaker keeps opening, without a rollback', async () => {
    const quickBreaker: RollbackPolicy = {
      ...defaultRollbackPolicy,
      rules: {
        circuit_breaker_open: {
          when: 'circuit_breaker_open_for',
          threshold: 2,
          action: 'disable_feature',
          severity: 'P3',
        },
      },
    };
    await start(quickBreaker);
    await deploy('d-1', 'v2.0.0-breaker');
    traffic('refund', { orderId: 'o-1', amount: 5 });
    const story = await waitFor((types) => types.includes('RollbackCompleted'));
    expect(story.map((e) => e.type).slice(4)).toEqual([
      'RollbackDecided',
      'RollbackStarted',
      'FeatureDisabled',
      'RollbackCompleted',
    ]);
    expect(story[4]!.data).toMatchObject({
      rule: 'circuit_breaker_open',
      mode: 'disable_feature',
      feature: { scope: 'tool', target: 'refund' },
    });
    expect(story[5]!.data).toMatchObject({ fromRelease: 'v2.0.0-breaker', toRelease: 'v2.0.0-breaker' });
    const [instance] = await driver.instances('sample');
    const health = (await (await fetch(`${instance!.url}/health`)).json()) as { release: string; tools: number };
    expect(health).toMatchObject({ release: 'v2.0.0-breaker', tools: 4 });
  }, 120_000);
});
