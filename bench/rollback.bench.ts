/**
 * Time to recover: from the first bad health sample of a release with a high error rate to the
 * rollback completed and verified, on the real sample fleet, at 1 s sampling and at the seeds'
 * default 10 s. Repeated runs; medians and worst cases.
 * Run: npm run bench:rollback -- [--runs N] [--default-runs N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTraffic } from '../drills/sample-fleet/traffic.js';
import { RollbackProcessManager } from '../src/policy/rollback-process-manager.js';
import { handleCommand } from '../src/application/command-handler.js';
import { registerServices } from '../src/application/register-services.js';
import { serviceDecider } from '../src/domain/service-decider.js';
import { ProcessDriver } from '../src/drivers/process-driver.js';
import type { RecordedEvent } from '../src/event-store/event-store.js';
import { SqliteEventStore } from '../src/event-store/sqlite-event-store.js';
import { ServiceReconciler } from '../src/execution/service-reconciler.js';
import { defaultRollbackPolicy } from '../src/policy/rollback-policy.js';
import { HealthProber } from '../src/probing/health-prober.js';
import { MemoryCheckpointStore } from '../src/runtime/memory-checkpoint-store.js';
import { fmt, median, progress } from './bench-support.js';
import { healthStream, serviceStream } from '../src/domain/streams.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    'default-runs': { type: 'string', default: '3' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(
    'Usage: npm run bench:rollback -- [--runs N (at 1 s sampling, default 5)] ' +
      '[--default-runs N (at 10 s, default 3)]\n',
  );
  process.exit(0);
}
const releasesDir = fileURLToPath(new URL('../drills/sample-fleet/releases/', import.meta.url));

interface Run {
  /**
   * From the bad release taking traffic (its DeploymentHealthy) to the rollback verified:
   * what the sampling interval costs shows here.
   */
  readonly sinceLiveS: number;
  readonly detectS: number;
  readonly recoverS: number;
  readonly verifiedS: number;
}

async function collectStream(store: SqliteEventStore, stream: string): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of store.readStream(stream)) out.push(e);
  return out;
}

async function once(intervalMs: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'failsafe-bench-rollback-'));
  const store = SqliteEventStore.open({ path: join(dir, 'events.db'), livePollIntervalMs: 50 });
  const driver = await ProcessDriver.start({
    services: { sample: { releasesDir, port: 0 } },
    stateDir: join(dir, 'state'),
  });
  const manager = new RollbackProcessManager(store, defaultRollbackPolicy, new MemoryCheckpointStore());
  const prober = new HealthProber(store, driver, { services: ['sample'], intervalMs });
  const reconciler = new ServiceReconciler(store, driver);
  await registerServices(store, ['sample'], { actor: 'bench', now: new Date(), source: 'fleet' });
  await manager.start();
  await prober.start();
  await reconciler.start();
  const traffic = startTraffic(() => driver.address('sample'));
  const waitFor = async (type: string) => {
    for (const deadline = Date.now() + 180_000; Date.now() < deadline; await sleep(100)) {
      const found = (await collectStream(store, serviceStream('sample'))).filter((e) => e.type === type);
      if (found.length > 0) return found.at(-1)!;
    }
    throw new Error(`no ${type} within 180 s`);
  };
  try {
    const request = (deploymentId: string, release: string) =>
      handleCommand(
        store,
        serviceStream('sample'),
        serviceDecider,
        { type: 'RequestDeployment', service: 'sample', deploymentId, release, now: new Date() },
        { actor: 'bench', now: new Date() },
      );
    await request('d-1', 'v1.0.0');
    await waitFor('DeploymentHealthy');
    await request('d-2', 'v2.0.0-errors');
    const verified = await waitFor('RollbackVerified');
    const stream = await collectStream(store, serviceStream('sample'));
    const at = (type: string) => stream.find((e) => e.type === type)!.recordedAt.getTime();
    const live = stream
      .filter((e) => e.type === 'DeploymentHealthy')
      .at(-1)!
      .recordedAt.getTime();
    const firstBad = (await collectStream(store, healthStream('sample'))).find((e) => {
      const d = e.data as { release?: string; requests?: { errors: number } };
      return d.release === 'v2.0.0-errors' && (d.requests?.errors ?? 0) > 0;
    })!;
    const bad = Date.parse(String(firstBad.data.sampledAt));
    return {
      sinceLiveS: (verified.recordedAt.getTime() - live) / 1000,
      detectS: (at('RollbackDecided') - bad) / 1000,
      recoverS: (at('RollbackCompleted') - bad) / 1000,
      verifiedS: (verified.recordedAt.getTime() - bad) / 1000,
    };
  } finally {
    await traffic.stop();
    await reconciler.stop();
    await prober.stop();
    await manager.stop();
    await driver.stopAll();
    await driver.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(
  `Failsafe time-to-recover benchmark — ${new Date().toISOString()}, node ${process.version}, ${cpus().length} cores`,
);
console.log('from the first bad sample of v2.0.0-errors (30 % of tool calls fail) to the rollback to v1.0.0;');
console.log('the last row counts from the moment the bad release took traffic, so it includes the wait for a sample\n');
for (const [intervalMs, runs] of [
  [1_000, Number(args.runs)],
  [10_000, Number(args['default-runs'])],
] as const) {
  const results: Run[] = [];
  for (let i = 0; i < runs; i += 1) {
    progress(`sampling every ${intervalMs / 1000} s: run ${i + 1} of ${runs}`);
    results.push(await once(intervalMs));
  }
  const row = (name: string, pick: (r: Run) => number) => {
    const values = results.map(pick);
    console.log(
      `  ${name.padEnd(32)} median ${fmt(median(values), 1).padStart(6)} s   ` +
        `worst ${fmt(Math.max(...values), 1).padStart(6)} s`,
    );
  };
  console.log(
    `sampling every ${intervalMs / 1000} s (${runs} runs)${intervalMs === 10_000 ? " — the seeds' default" : ''}`,
  );
  row('decided (detection)', (r) => r.detectS);
  row('completed (traffic on v1.0.0)', (r) => r.recoverS);
  row('completed and verified', (r) => r.verifiedS);
  row('bad release live → verified', (r) => r.sinceLiveS);
}
