/**
 * Time from a rollback decision to `rollout undo` complete, on the simulated cluster (a real
 * Kubernetes 1.37 control plane, kwok pods): Failsafe's policy, reconciler and kubernetes driver
 * in one process, beside the same rollback done by kubectl 1.37 (`kubectl rollout undo
 * deployment/x --to-revision=1` then `kubectl rollout status`), alternating the two, each on a
 * Deployment of its own rolled from v1.0.0 to v2.0.0-errors just before (revision 2 → 1's ReplicaSet).
 * Failsafe: from RollbackDecided recorded to RollbackCompleted recorded (the rollout complete as
 * `rollout status` judges it). kubectl: from the start of `rollout undo` to the end of `rollout status`.
 * Both with the same ServiceAccount and Role (kubernetes/fleet-role.yaml).
 * Run: npm run bench:kubernetes -- [--runs N] [--quick]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { sampleReleaseSchema } from '../drills/sample-fleet/server/sample-release.js';
import { createSampleServer } from '../drills/sample-fleet/server/sample-server.js';
import { handleCommand } from '../src/application/command-handler.js';
import { registerServices } from '../src/application/register-services.js';
import { serviceDecider } from '../src/domain/service-decider.js';
import { healthStream, serviceStream } from '../src/domain/streams.js';
import { KubernetesDriver } from '../src/drivers/kubernetes-driver.js';
import { collect } from '../src/event-store/event-store.contract.js';
import { SqliteEventStore } from '../src/event-store/sqlite-event-store.js';
import { encodeEvent } from '../src/events/catalogue.js';
import { ServiceReconciler } from '../src/execution/service-reconciler.js';
import { RollbackProcessManager } from '../src/policy/rollback-process-manager.js';
import { defaultRollbackPolicy } from '../src/policy/rollback-policy.js';
import { MemoryCheckpointStore } from '../src/runtime/memory-checkpoint-store.js';
import { startKubernetesCluster } from '../src/testing/kubernetes-cluster.js';
import { createDeployment, fleetNamespace, testImageTemplate } from '../src/testing/kubernetes-deployments.js';
import { fmt, loadAverage, median, positiveOptions, progress, type QuickCheck, reportQuick } from './bench-support.js';

const HELP =
  'Usage: npm run bench:kubernetes -- [--runs N (rollbacks of each, default 10)] ' +
  '[--quick (3 of each, ends with the QUICK line)]\n';
const options = positiveOptions(HELP, { runs: 10 }, { runs: 3 });
/**
 * Failsafe's time / kubectl's, lower is better: an automatic rollback no slower than an operator's
 * kubectl. Failsafe also records the decision and the outcome, and follows the rollout by reading the
 * Deployment every 250 ms where kubectl watches it.
 */
const AIM = 1;
const NAMESPACE = 'bench';
const KUBECTL_TIMEOUT = '--timeout=120s';

const startedAt = new Date();
const load = { start: loadAverage(), end: 0 };
console.log(
  `Failsafe Kubernetes rollback benchmark — ${startedAt.toISOString()}, node ${process.version}, ` +
    `${cpus().length} cores, load ${load.start}`,
);
console.log(
  `decision → rollout undo complete, ${options.runs} of each, alternating; 2 replicas per Deployment, ` +
    'kwok pods (ready at once); kubectl 1.37.2 built from the same modules as the server\n',
);

progress('starting the control plane');
const cluster = await startKubernetesCluster();
const dir = mkdtempSync(join(tmpdir(), 'failsafe-bench-kubernetes-'));
const standIn = createSampleServer({ release: 'v1.0.0', behaviour: sampleReleaseSchema.parse({}), disabledTools: [] });
const store = SqliteEventStore.open({ path: join(dir, 'events.db'), livePollIntervalMs: 20 });
const manager = new RollbackProcessManager(store, defaultRollbackPolicy, new MemoryCheckpointStore());
const parts: { stop(): Promise<void> }[] = [];
let quick: QuickCheck[] | undefined;
try {
  const kubeconfig = await fleetNamespace(cluster, NAMESPACE);
  await new Promise<void>((resolve) => standIn.http.listen(0, '127.0.0.1', resolve));
  // Post-rollback verification calls the sample server standing in for the Service (kwok pods answer nowhere).
  const address = `http://127.0.0.1:${(standIn.http.address() as AddressInfo).port}`;
  const names = Array.from({ length: options.runs }, (_, i) => `failsafe-${i}`);
  const entry = (name: string) => ({
    namespace: NAMESPACE,
    deployment: name,
    image: testImageTemplate(name),
    address,
    kubeconfig,
    rolloutTimeoutSeconds: 120,
  });
  const driver = new KubernetesDriver({ services: Object.fromEntries(names.map((n) => [n, entry(n)])) });
  const reconciler = new ServiceReconciler(store, driver, {
    verificationWindowMs: 1000,
    probeTools: Object.fromEntries(names.map((n) => [n, 'time'])),
  });
  await registerServices(store, names, { actor: 'bench', now: new Date(), source: 'fleet' });
  await manager.start();
  parts.push(manager);
  await reconciler.start();
  parts.push(reconciler);

  const eventsOf = async (service: string) => collect(store.readStream(serviceStream(service)));
  const waitFor = async (service: string, type: string) => {
    for (const deadline = performance.now() + 120_000; performance.now() < deadline; await sleep(20)) {
      const found = (await eventsOf(service)).filter((e) => e.type === type);
      if (found.length > 0) return found.at(-1)!;
    }
    throw new Error(`${service}: no ${type} within 120 s`);
  };
  const deploy = async (service: string, release: string) => {
    const deploymentId = `d-${release}`;
    await handleCommand(
      store,
      serviceStream(service),
      serviceDecider,
      { type: 'RequestDeployment', service, deploymentId, release, now: new Date() },
      { actor: 'bench', now: new Date() },
    );
    for (;;) {
      const ended = (await eventsOf(service)).find(
        (e) => ['DeploymentHealthy', 'DeploymentFailed'].includes(e.type) && e.data.deploymentId === deploymentId,
      );
      if (ended?.type === 'DeploymentFailed') throw new Error(`${service}: ${JSON.stringify(ended.data)}`);
      if (ended) return;
      await sleep(50);
    }
  };
  /** What the prober would record of v2.0.0-errors' pods: 30 % of calls failing. */
  const badSamples = (service: string) =>
    [0, 1, 2].map((n) =>
      encodeEvent(
        {
          type: 'HealthSampleRecorded',
          data: {
            service,
            instance: `${service}-pod-${n}`,
            release: 'v2.0.0-errors',
            sampledAt: new Date().toISOString(),
            healthy: true,
            healthLatencyMs: 3,
            requests: { total: 40, errors: 12 },
            errorRate: 0.3,
          },
        },
        { actor: 'failsafe:prober', occurredAt: new Date() },
      ),
    );

  /** Failsafe: deployed v1.0.0 then v2.0.0-errors through it, then the samples that make the policy decide. */
  const failsafeRollback = async (service: string): Promise<number> => {
    await createDeployment(cluster, { namespace: NAMESPACE, name: service, release: 'v1.0.0' });
    await deploy(service, 'v1.0.0');
    await deploy(service, 'v2.0.0-errors');
    await store.append(healthStream(service), badSamples(service), 'any');
    const completed = await waitFor(service, 'RollbackCompleted');
    const decided = await waitFor(service, 'RollbackDecided');
    if (decided.data.targetRelease !== 'v1.0.0') throw new Error(`${service}: ${JSON.stringify(decided.data)}`);
    return (completed.recordedAt.getTime() - decided.recordedAt.getTime()) / 1000;
  };
  /** kubectl: the same Deployment history made with kubectl, then undone with it. */
  const kubectlRollback = async (name: string): Promise<number> => {
    const kubectl = (...args: string[]) => cluster.kubectl([...args, '-n', NAMESPACE], { kubeconfig });
    await createDeployment(cluster, { namespace: NAMESPACE, name, release: 'v1.0.0' });
    await kubectl('set', 'image', `deployment/${name}`, `server=example.test/mcp/${name}:v2.0.0-errors`);
    await kubectl('rollout', 'status', `deployment/${name}`, KUBECTL_TIMEOUT);
    const start = performance.now();
    await kubectl('rollout', 'undo', `deployment/${name}`, '--to-revision=1');
    await kubectl('rollout', 'status', `deployment/${name}`, KUBECTL_TIMEOUT);
    return (performance.now() - start) / 1000;
  };

  const results = { failsafe: [] as number[], kubectl: [] as number[] };
  for (let i = 0; i < options.runs; i += 1) {
    const order = i % 2 === 0 ? (['failsafe', 'kubectl'] as const) : (['kubectl', 'failsafe'] as const);
    for (const who of order) {
      progress(`run ${i + 1} of ${options.runs}: ${who}`);
      const seconds = who === 'failsafe' ? await failsafeRollback(names[i]!) : await kubectlRollback(`kubectl-${i}`);
      results[who].push(seconds);
      progress(`  ${fmt(seconds, 3)} s`);
    }
  }
  load.end = loadAverage();
  const [ours, theirs] = [median(results.failsafe), median(results.kubectl)];
  const ratio = ours / theirs;
  const row = (name: string, values: number[]) =>
    console.log(
      `  ${name.padEnd(44)} median ${fmt(median(values), 3).padStart(6)} s   min ${fmt(Math.min(...values), 3)} s` +
        `   max ${fmt(Math.max(...values), 3)} s   (${values.map((v) => fmt(v, 3)).join(', ')})`,
    );
  row('failsafe: RollbackDecided → RollbackCompleted', results.failsafe);
  row('kubectl: rollout undo + rollout status', results.kubectl);
  console.log(`  ratio failsafe / kubectl (medians): ${fmt(ratio, 2)}   aim <= ${AIM}; load at the end ${load.end}`);
  if (options.quick)
    quick = [{ name: 'failsafe / kubectl rollback time', value: ratio, aim: AIM, higherIsBetter: false }];
} finally {
  for (const part of parts.reverse()) await part.stop();
  await store.close();
  await new Promise((resolve) => standIn.http.close(resolve));
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
if (quick) reportQuick(quick);
