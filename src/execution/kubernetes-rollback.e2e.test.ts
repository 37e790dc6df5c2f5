import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { newToken } from '../auth/tokens.js';
import { freePort } from '../drills/toxiproxy.js';
import { drillStream, serviceStream } from '../domain/streams.js';
import { readServedStream } from '../http/front-door.fixture.js';
import { defaultRollbackPolicy } from '../policy/rollback-policy.js';
import { type KafkaBroker, startKafkaBroker } from '../testing/kafka-broker.js';
import { type KubernetesCluster, startKubernetesCluster } from '../testing/kubernetes-cluster.js';
import {
  createDeployment,
  fleetNamespace,
  labelNode,
  revisions,
  templateRelease,
  testImageTemplate,
} from '../testing/kubernetes-deployments.js';
import { type PodTelemetry, pushPodTelemetry } from '../testing/kwok-pod-telemetry.fixture.js';
import { failsafeBin, type ServeProcess, startServeProcess } from '../testing/serve-process.js';

const NAMESPACE = 'mcp-fleet';
const SAMPLES = 'k8s-e2e.samples';
/** Pods of `stuck` are scheduled only while the node has this label. */
const STUCK_LABEL = 'failsafe-test/stuck-accepted';
const drillsDir = fileURLToPath(new URL('../../drills/', import.meta.url));
const releasesDir = `${drillsDir}sample-fleet/releases/`;
const sampleServer = `${drillsDir}sample-fleet/server/main.ts`;
const execFileAsync = promisify(execFile);
/**
 * The seeds' policy with the error-rate window shortened from 60 s to 10 s: the pods' good samples
 * of the minute before would otherwise hold a bad release's 30 % under the 10 % for about 20 s.
 */
const policy = () => {
  const errors = defaultRollbackPolicy.rules.error_rate_critical!;
  return stringify({
    version: 1,
    rules: { ...defaultRollbackPolicy.rules, error_rate_critical: { ...errors, windowSeconds: 10 } },
  });
};

/**
 * Failsafe as an operator runs it (`failsafe serve`, its own process) on Deployments of a real
 * Kubernetes 1.37 control plane, kwok simulating the pods. kwok's pods run no container, so:
 * - every service's `address` is one real sample MCP server (v1.0.0) on loopback, standing in for
 *   the Service (its own process); post-rollback verification and the drill's load reach it, whatever the pods run;
 * - health follows the release the cluster runs through `telemetry: push`: the test plays the
 *   pods (kwok-pod-telemetry.fixture.ts), publishing to Kafka, for each Ready pod, the figures of the sample
 *   fleet's release its image names (v2.0.0-errors: 30 % of calls fail). The prober samples nothing.
 * The policy is the seeds' with a 10 s error-rate window (see `policy`).
 * Services: `search` (rolled forward, then back), `stuck` (a rollout that cannot finish),
 * `slow` (a rollout Failsafe is killed in), `catalog` (the drill's).
 */
describe('Kubernetes Deployments through failsafe serve (real control plane, kwok pods)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'failsafe-k8s-e2e-'));
  const dataDir = join(dir, 'data');
  const token = newToken();
  let cluster: KubernetesCluster;
  let broker: KafkaBroker;
  let standIn: ChildProcess;
  let serve: ServeProcess;
  let serveArgs: string[];
  const pods: PodTelemetry[] = [];

  const events = async (service: string) => readServedStream(dataDir, serviceStream(service));
  const types = async (service: string) => (await events(service)).map((e) => e.type);
  const startServe = () =>
    startServeProcess({
      dataDir,
      args: serveArgs,
      env: { FAILSAFE_ADMIN_TOKEN: token, FAILSAFE_EXECUTION_LEASE_SECONDS: '3' },
      timeoutMs: 60_000,
    });

  /** POST /api/v1/services/<service>/deployments; resolves with the deployment's id. */
  const requestDeployment = async (service: string, release: string): Promise<string> => {
    const response = await fetch(`${serve.url}/api/v1/services/${service}/deployments`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ release }),
    });
    const body = await response.text();
    expect(response.status, body).toBe(201);
    return (JSON.parse(body) as { deploymentId: string }).deploymentId;
  };
  /** The deployment's last event once it ended (DeploymentHealthy or DeploymentFailed). */
  const outcomeOf = async (service: string, deploymentId: string, timeout = 60_000) => {
    const ended = async () =>
      (await events(service)).find(
        (e) =>
          (e.type === 'DeploymentHealthy' || e.type === 'DeploymentFailed') && e.data.deploymentId === deploymentId,
      );
    await expect.poll(ended, { timeout, interval: 250 }).toBeDefined();
    return (await ended())!;
  };

  beforeAll(async () => {
    [cluster, broker] = await Promise.all([startKubernetesCluster(), startKafkaBroker()]);
    copyFileSync(await fleetNamespace(cluster, NAMESPACE), join(dir, 'failsafe.kubeconfig'));
    await labelNode(cluster, STUCK_LABEL, 'yes');
    await Promise.all([
      createDeployment(cluster, { namespace: NAMESPACE, name: 'search', release: 'v1.0.0' }),
      createDeployment(cluster, {
        namespace: NAMESPACE,
        name: 'stuck',
        release: 'v1.0.0',
        nodeLabel: STUCK_LABEL,
        progressDeadlineSeconds: 4,
      }),
      // Each new pod counts as available 6 s after it is ready: the rollout of 2 pods takes over 12 s.
      createDeployment(cluster, { namespace: NAMESPACE, name: 'slow', release: 'v1.0.0', minReadySeconds: 6 }),
      createDeployment(cluster, { namespace: NAMESPACE, name: 'catalog', release: 'v1.0.0' }),
    ]);

    // Its own process: the drill's CLI call below blocks this one while the drill reaches it.
    const port = await freePort();
    standIn = spawn(process.execPath, ['--import', 'tsx', sampleServer, `${releasesDir}v1.0.0/release.yaml`], {
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise((resolve) => standIn.stdout!.once('data', resolve));
    const address = `http://127.0.0.1:${port}`;
    const entry = (name: string) => ({
      driver: 'kubernetes',
      namespace: NAMESPACE,
      deployment: name,
      container: 'server',
      image: testImageTemplate(name),
      address,
      kubeconfig: './failsafe.kubeconfig',
      rolloutTimeoutSeconds: 60,
      probeTool: 'time',
      telemetry: 'push',
    });
    const services = ['search', 'stuck', 'slow', 'catalog'];
    const fleet = { services: Object.fromEntries(services.map((s) => [s, entry(s)])), probe: { intervalSeconds: 1 } };
    writeFileSync(join(dir, 'fleet.yaml'), stringify(fleet));
    const kafka = {
      brokers: broker.brokers,
      telemetry: {
        samplesTopic: SAMPLES,
        noticesTopic: 'k8s-e2e.notices',
        deadLetterTopic: 'k8s-e2e.dead-letter',
        staleAfterSeconds: 30,
      },
      feed: { enabled: false },
    };
    writeFileSync(join(dir, 'config.yaml'), stringify({ kafka }));
    writeFileSync(join(dir, 'policy.yaml'), policy());
    serveArgs = ['--fleet', join(dir, 'fleet.yaml'), '--config', join(dir, 'config.yaml')];
    serveArgs.push('--policy', join(dir, 'policy.yaml'));
    serveArgs.push('--drills', drillsDir, '--tick-seconds', '1');
    serve = await startServe();
    // After serve registered the services: samples of a service not registered are dead letters.
    for (const service of services)
      pods.push(
        pushPodTelemetry({
          kubeconfig: cluster.adminKubeconfig,
          namespace: NAMESPACE,
          deployment: service,
          service,
          brokers: broker.brokers,
          topic: SAMPLES,
        }),
      );
  }, 120_000);

  afterAll(async () => {
    // Bounded: the serve started after the SIGKILL took over a minute to stop on SIGTERM once.
    const kill = setTimeout(() => serve?.child.kill('SIGKILL'), 15_000);
    await serve?.stop();
    clearTimeout(kill);
    for (const p of pods) await p.stop();
    standIn?.kill();
    await broker?.stop();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('rolls a good release out through the API: DeploymentHealthy, the new image on a new ReplicaSet', async () => {
    // The release the Deployment already runs: recorded healthy, nothing changed in the cluster.
    const same = await outcomeOf('search', await requestDeployment('search', 'v1.0.0'));
    expect(same.type).toBe('DeploymentHealthy');
    expect((await revisions(cluster, NAMESPACE, 'search')).map((r) => r.revision)).toEqual([1]);

    const healthy = await outcomeOf('search', await requestDeployment('search', 'v1.1.0'));
    expect(healthy.type, JSON.stringify(healthy.data)).toBe('DeploymentHealthy');
    expect(await templateRelease(cluster, NAMESPACE, 'search')).toBe('v1.1.0');
    const [old, current] = await revisions(cluster, NAMESPACE, 'search');
    expect(old).toMatchObject({ revision: 1, release: 'v1.0.0', replicas: 0 });
    expect(current).toMatchObject({ revision: 2, release: 'v1.1.0', replicas: 2, readyReplicas: 2 });
  }, 90_000);

  it('rolls a bad release back to the last known good revision, reusing its ReplicaSet', async () => {
    const bad = await outcomeOf('search', await requestDeployment('search', 'v2.0.0-errors'));
    expect(bad.type).toBe('DeploymentHealthy');

    // The pods of v2.0.0-errors push 30 % errors: the policy decides, the driver rolls back.
    await expect.poll(() => types('search'), { timeout: 60_000, interval: 500 }).toContain('RollbackVerified');
    // The policy may decide while the bad rollout is still finishing (its first pods push errors): the
    // rollback's own events, in order.
    const rollback = [
      'RollbackDecided',
      'RollbackStarted',
      'RollbackCompleted',
      'DeploymentRolledBack',
      'RollbackVerified',
    ];
    const story = (await events('search')).filter((e) => rollback.includes(e.type));
    expect(story.map((e) => e.type)).toEqual(rollback);
    const decided = story.find((e) => e.type === 'RollbackDecided')!;
    expect(decided.data).toMatchObject({
      rule: 'error_rate_critical',
      mode: 'automatic',
      targetRelease: 'v1.1.0',
    });
    expect(story.find((e) => e.type === 'RollbackVerified')!.data).toMatchObject({ passed: true });

    // Through the API: v1.1.0's ReplicaSet (revision 2) came back as revision 4, and no new ReplicaSet was made.
    await expect
      .poll(() => revisions(cluster, NAMESPACE, 'search'), { timeout: 10_000 })
      .toMatchObject([
        { revision: 1, release: 'v1.0.0', replicas: 0 },
        { revision: 3, release: 'v2.0.0-errors', replicas: 0 },
        { revision: 4, history: [2], release: 'v1.1.0', replicas: 2, readyReplicas: 2 },
      ]);
    expect(await templateRelease(cluster, NAMESPACE, 'search')).toBe('v1.1.0');
  }, 120_000);

  it('fails a rollout whose pods stay Pending past its deadline; the old ReplicaSet keeps serving', async () => {
    expect((await outcomeOf('stuck', await requestDeployment('stuck', 'v1.0.0'))).type).toBe('DeploymentHealthy');
    // The running pods stay where they are; the new revision's pods find no node that accepts them.
    await labelNode(cluster, STUCK_LABEL, undefined);
    const failed = await outcomeOf('stuck', await requestDeployment('stuck', 'v1.1.0'));
    expect(failed.type).toBe('DeploymentFailed');
    expect(failed.data.reason).toMatch(/ProgressDeadlineExceeded/);
    const [old, stalled] = await revisions(cluster, NAMESPACE, 'stuck');
    expect(old).toMatchObject({ revision: 1, release: 'v1.0.0', replicas: 2, readyReplicas: 2 });
    expect(stalled).toMatchObject({ revision: 2, release: 'v1.1.0', readyReplicas: 0 });
    const pods = JSON.parse(
      await cluster.kubectl(['get', 'pods', '-n', NAMESPACE, '-l', 'app=stuck', '-o', 'json']),
    ) as { items: { spec: { containers: { image: string }[] }; status: { phase: string } }[] };
    const imagesIn = (phase: string) =>
      pods.items.filter((p) => p.status.phase === phase).map((p) => p.spec.containers[0]!.image);
    expect(imagesIn('Running')).toEqual(['example.test/mcp/stuck:v1.0.0', 'example.test/mcp/stuck:v1.0.0']);
    expect(imagesIn('Pending')).toEqual(['example.test/mcp/stuck:v1.1.0']);
    // What is recorded is what serves.
    const status = await fetch(`${serve.url}/api/v1/services/stuck`, { headers: { Authorization: `Bearer ${token}` } });
    expect(await status.json()).toMatchObject({ service: { currentRelease: 'v1.0.0' } });
  }, 90_000);

  it('runs the kubernetes-rollback drill through serve; the cluster shows the undo as a revision', async () => {
    // The drill judges Failsafe's events and the service's address; the cluster is checked here after it.
    // Not serve.cli: a synchronous call would stall this process, and the pods' samples it publishes with it.
    const env = { ...process.env, FAILSAFE_URL: serve.url, FAILSAFE_TOKEN: token, XDG_CONFIG_HOME: dataDir };
    const drill = ['drill', 'run', 'kubernetes-rollback', '--via-server', '--wait', '110'];
    const run = await execFileAsync(process.execPath, [failsafeBin, ...drill], { env }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({
        code: error.code,
        stdout: error.stdout ?? '',
        stderr: error.stderr ?? '',
      }),
    );
    const runId = /drill run (\S+)/.exec(run.stdout)?.[1] ?? 'none';
    const steps = (await readServedStream(dataDir, drillStream(runId))).map((e) => JSON.stringify(e.data));
    expect(run.code, `${run.stdout}\n${run.stderr}\n${steps.join('\n')}`).toBe(0);
    expect(run.stdout).toMatch(/kubernetes-rollback \S+ PASSED/);
    await expect
      .poll(() => revisions(cluster, NAMESPACE, 'catalog'), { timeout: 10_000 })
      .toMatchObject([
        { release: 'v2.0.0-errors', revision: 2, replicas: 0 },
        { release: 'v1.0.0', revision: 3, history: [1], replicas: 2, readyReplicas: 2 },
      ]);
  }, 150_000);

  // Last: after the SIGKILL, the new serve's Kafka consumer waits for the dead one's group session to expire
  // (about 30 s) before samples flow again, and the pods' telemetry would look stale to anything after.
  it('adopts the rollout it was SIGKILLed in once restarted, and finishes it with one new revision', async () => {
    expect((await outcomeOf('slow', await requestDeployment('slow', 'v1.0.0'))).type).toBe('DeploymentHealthy');
    const deploymentId = await requestDeployment('slow', 'v1.1.0');
    // Killed once the new ReplicaSet exists and before its rollout is done (it takes over 12 s).
    await expect
      .poll(async () => (await revisions(cluster, NAMESPACE, 'slow')).length, { timeout: 20_000, interval: 100 })
      .toBe(2);
    const killed = new Promise((resolve) => serve.child.once('exit', resolve));
    serve.child.kill('SIGKILL');
    await killed;
    const [, inProgress] = await revisions(cluster, NAMESPACE, 'slow');
    expect(inProgress!.readyReplicas).toBeLessThan(2);
    expect(await types('slow')).not.toContain('DeploymentFailed');

    serve = await startServe();
    const outcome = await outcomeOf('slow', deploymentId, 90_000);
    expect(outcome.type, JSON.stringify(outcome.data)).toBe('DeploymentHealthy');
    const takenOver = (await events('slow')).filter((e) => e.type === 'ExecutionTakenOver');
    expect(takenOver.map((e) => e.data.work)).toEqual([{ kind: 'deployment', id: deploymentId }]);
    const after = await revisions(cluster, NAMESPACE, 'slow');
    expect(after).toMatchObject([
      { revision: 1, release: 'v1.0.0', replicas: 0 },
      { revision: 2, release: 'v1.1.0', replicas: 2, readyReplicas: 2 },
    ]);
  }, 150_000);
});
