import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleCommand } from '../application/command-handler.js';
import { serviceDecider, type ServiceCommand } from '../domain/service-decider.js';
import { serviceStream } from '../domain/streams.js';
import { collect } from '../event-store/event-store.contract.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { ServiceReconciler } from '../execution/service-reconciler.js';
import { type KubernetesCluster, startKubernetesCluster } from '../testing/kubernetes-cluster.js';
import { KubernetesDriver, type KubernetesServiceConfig } from './kubernetes-driver.js';
import { noFeatureFlags } from './target-driver.js';

const FLEET = 'fleet-a';
const IMAGE = 'example.test/mcp/search:{release}';

interface ReplicaSet {
  metadata: { name: string; annotations: Record<string, string> };
  spec: { template: { spec: { containers: { image: string }[] } } };
  status: { replicas?: number; readyReplicas?: number };
}

/** A Deployment of 2 replicas of v1.0.0, one container; `extra` adds to its spec, `resources` to its container. */
const deploymentManifest = (name: string, namespace: string, extra: object = {}, resources: object = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: 'server', image: 'example.test/mcp/search:v1.0.0', ...resources }] },
    },
    ...extra,
  },
});

describe('the kubernetes driver, acting as a ServiceAccount bound to kubernetes/fleet-role.yaml', () => {
  let cluster: KubernetesCluster;
  let driver: KubernetesDriver;
  const logs: string[] = [];

  const get = async (kind: string, name: string, namespace = FLEET) =>
    JSON.parse(await cluster.kubectl(['get', kind, name, '-n', namespace, '-o', 'json']));
  const replicaSets = async (app: string): Promise<ReplicaSet[]> =>
    JSON.parse(await cluster.kubectl(['get', 'rs', '-n', FLEET, '-l', `app=${app}`, '-o', 'json'])).items;
  const revision = (rs: ReplicaSet) => Number(rs.metadata.annotations['deployment.kubernetes.io/revision']);
  const imageOf = (rs: ReplicaSet) => rs.spec.template.spec.containers[0]!.image;
  const envOf = async (name: string) =>
    ((await get('deployment', name)).spec.template.spec.containers[0].env ?? []) as { name: string; value: string }[];

  beforeAll(async () => {
    cluster = await startKubernetesCluster();
    const kubeconfig = await cluster.serviceAccountKubeconfig('failsafe', 'failsafe');
    const role = readFileSync('kubernetes/fleet-role.yaml', 'utf8').replaceAll(
      'namespace: mcp-fleet',
      `namespace: ${FLEET}`,
    );
    const namespaces = [FLEET, 'other'].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
    await cluster.kubectl(['apply', '-f', '-'], { stdin: namespaces.map((n) => JSON.stringify(n)).join('\n') });
    await cluster.kubectl(['apply', '-f', '-'], { stdin: role });
    // Room for 2 pods of 400 CPUs on the kwok node (1000), not for a third: a surge pod stays Pending.
    const big = { resources: { requests: { cpu: '400' } } };
    const strict = { progressDeadlineSeconds: 2, strategy: { rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } };
    const manifests = [
      deploymentManifest('search', FLEET),
      deploymentManifest('adopted', FLEET),
      deploymentManifest('flagged', FLEET),
      deploymentManifest('scaled', FLEET),
      deploymentManifest('resumed', FLEET),
      // Selected by an expression only: instances and ReplicaSets are found through it, not by matchLabels.
      deploymentManifest('kept', FLEET, {
        selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['kept'] }] },
      }),
      deploymentManifest('stuck', FLEET, strict, big),
      deploymentManifest('search', 'other'),
    ];
    await cluster.kubectl(['apply', '-f', '-'], { stdin: manifests.map((m) => JSON.stringify(m)).join('\n') });
    for (const [name, namespace] of manifests.map((m) => [m.metadata.name, m.metadata.namespace] as const))
      await cluster.kubectl(['rollout', 'status', `deployment/${name}`, '-n', namespace, '--timeout=60s']);
    const service = (deployment: string, namespace = FLEET): KubernetesServiceConfig => ({
      namespace,
      deployment,
      image: IMAGE,
      address: 'http://127.0.0.1:9',
      kubeconfig,
      rolloutTimeoutSeconds: 30,
    });
    driver = new KubernetesDriver({
      services: {
        search: { ...service('search'), container: 'server' },
        adopted: service('adopted'),
        flagged: service('flagged'),
        scaled: service('scaled'),
        resumed: service('resumed'),
        kept: service('kept'),
        stuck: service('stuck'),
        elsewhere: service('search', 'other'),
      },
      log: (line) => logs.push(line),
      pollMs: 100,
    });
  }, 120_000);

  afterAll(async () => {
    await driver?.close();
    await cluster?.stop();
  });

  it('deploys a release by setting its image, and reports the instances once the rollout completes', async () => {
    const instances = await driver.deploy('search', 'v1.1.0', { idempotencyKey: 'deploy-1' });
    expect(instances).toHaveLength(2);
    for (const instance of instances)
      expect(instance).toMatchObject({ service: 'search', release: 'v1.1.0', url: 'http://127.0.0.1:9' });
    const deployment = await get('deployment', 'search');
    expect(deployment.status).toMatchObject({ updatedReplicas: 2, availableReplicas: 2, replicas: 2 });
    expect(deployment.metadata.annotations['kubernetes.io/change-cause']).toBe(
      'failsafe: deploy v1.1.0 (action deploy-1)',
    );
    const newest = (await replicaSets('search')).find((rs) => imageOf(rs) === 'example.test/mcp/search:v1.1.0');
    expect(newest && revision(newest)).toBe(2);
  });

  it('rolls back to a named release by reusing its ReplicaSet, which becomes the newest revision', async () => {
    const before = await replicaSets('search');
    const instances = await driver.rollback('search', 'v1.0.0', { idempotencyKey: 'rollback-1' });
    expect(instances.map((i) => i.release)).toEqual(['v1.0.0', 'v1.0.0']);
    const after = await replicaSets('search');
    expect(after.map((rs) => rs.metadata.name).sort()).toEqual(before.map((rs) => rs.metadata.name).sort());
    const old = after.find((rs) => imageOf(rs) === 'example.test/mcp/search:v1.0.0')!;
    expect(revision(old)).toBe(3);
    expect(old.status.readyReplicas).toBe(2);
    const template = (await get('deployment', 'search')).spec.template;
    expect(template.metadata.labels).toEqual({ app: 'search' });
  });

  it('fails a rollout that exceeds its progress deadline, the previous ReplicaSet still serving', async () => {
    const deploying = driver.deploy('stuck', 'v2.0.0', { idempotencyKey: 'deploy-stuck' });
    await expect(deploying).rejects.toMatchObject({ name: 'RolloutFailed', code: 'ROLLOUT_FAILED' });
    await expect(deploying).rejects.toThrow(/ProgressDeadlineExceeded.*the previous ReplicaSet keeps serving/);
    const old = (await replicaSets('stuck')).find((rs) => imageOf(rs) === 'example.test/mcp/search:v1.0.0')!;
    expect(old.status.readyReplicas).toBe(2);
    expect((await driver.instances('stuck')).map((i) => i.release)).toEqual(['v1.0.0', 'v1.0.0']);
  });

  it('rolls the failed rollout back to the last good release while the bad one is the newest revision', async () => {
    const instances = await driver.rollback('stuck', 'v1.0.0', { idempotencyKey: 'rollback-stuck' });
    expect(instances.map((i) => i.release)).toEqual(['v1.0.0', 'v1.0.0']);
    const sets = await replicaSets('stuck');
    const [good, bad] = ['v1.0.0', 'v2.0.0'].map((tag) => sets.find((rs) => imageOf(rs).endsWith(`:${tag}`))!);
    expect(revision(good!)).toBe(3);
    expect(bad!.status.replicas ?? 0).toBe(0);
  });

  it('adopts a rollout already under way for the same release without making a second revision', async () => {
    // What a Failsafe that died after setting the image left behind: the rollout, going on without it.
    await cluster.kubectl(['set', 'image', 'deployment/adopted', 'server=example.test/mcp/search:v1.2.0', '-n', FLEET]);
    const generation = (await get('deployment', 'adopted')).metadata.generation;
    const instances = await driver.deploy('adopted', 'v1.2.0', { idempotencyKey: 'adopt-1' });
    await driver.deploy('adopted', 'v1.2.0', { idempotencyKey: 'adopt-1' });
    expect(instances.map((i) => i.release)).toEqual(['v1.2.0', 'v1.2.0']);
    expect((await get('deployment', 'adopted')).metadata.generation).toBe(generation);
    expect((await replicaSets('adopted')).map(revision).sort()).toEqual([1, 2]);
    expect(logs.some((line) => line.includes('example.test/mcp/search:v1.2.0 already set'))).toBe(true);
  });

  it('disables tools with MCP_DISABLE_TOOLS in the pod template, a rollout of its own; removed when none', async () => {
    const flags = { ...noFeatureFlags, tools: ['search_docs', 'fetch'] };
    const instances = await driver.setFeatureFlags('flagged', flags, { idempotencyKey: 'flags-1' });
    expect(instances).toHaveLength(2);
    expect(await envOf('flagged')).toEqual([{ name: 'MCP_DISABLE_TOOLS', value: 'fetch,search_docs' }]);
    const deployment = await get('deployment', 'flagged');
    expect(deployment.metadata.annotations['deployment.kubernetes.io/revision']).toBe('2');
    expect(deployment.status).toMatchObject({ updatedReplicas: 2, availableReplicas: 2, replicas: 2 });
    await driver.setFeatureFlags('flagged', flags, { idempotencyKey: 'flags-1' });
    expect((await get('deployment', 'flagged')).metadata.generation).toBe(deployment.metadata.generation);

    await driver.setFeatureFlags('flagged', noFeatureFlags, { idempotencyKey: 'flags-2' });
    expect(await envOf('flagged')).toEqual([]);
  });

  it('keeps the tools disabled now across a rollback to a release that ran without them', async () => {
    await driver.deploy('kept', 'v1.1.0');
    await driver.setFeatureFlags('kept', { ...noFeatureFlags, tools: ['fetch'] });
    const instances = await driver.rollback('kept', 'v1.0.0');
    expect(instances.map((i) => i.release)).toEqual(['v1.0.0', 'v1.0.0']);
    expect(await envOf('kept')).toEqual([{ name: 'MCP_DISABLE_TOOLS', value: 'fetch' }]);
  });

  it('refuses a release or tool name that is not a plain image tag before sending anything', async () => {
    await expect(driver.deploy('search', 'v1;rm')).rejects.toMatchObject({ name: 'UnsafeName' });
    const bad = { ...noFeatureFlags, tools: ['a,b'] };
    await expect(driver.setFeatureFlags('search', bad)).rejects.toMatchObject({ name: 'UnsafeName' });
  });

  it('scales through deployments/scale and waits until every replica is available', async () => {
    const instances = await driver.scale('scaled', 4, { idempotencyKey: 'scale-1' });
    expect(instances).toHaveLength(4);
    expect((await get('deployment', 'scaled')).status).toMatchObject({ availableReplicas: 4, replicas: 4 });
  });

  it('is refused a Deployment in a namespace the Role does not cover, with what to do', async () => {
    const deploying = driver.deploy('elsewhere', 'v1.1.0');
    await expect(deploying).rejects.toMatchObject({ name: 'Forbidden', code: 'KUBERNETES_FORBIDDEN', status: 403 });
    await expect(deploying).rejects.toThrow(/elsewhere cannot get deployments in other; apply kubernetes\/fleet-role/);
    expect((await get('deployment', 'search', 'other')).spec.template.spec.containers[0].image).toBe(
      'example.test/mcp/search:v1.0.0',
    );
  });

  it('resumes, once restarted, a rollout a dead Failsafe started: one revision; then scales as asked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'failsafe-kubernetes-'));
    const store = SqliteEventStore.open({ path: join(dir, 'events.db'), livePollIntervalMs: 20 });
    const issue = (command: ServiceCommand, actor = 'test') =>
      handleCommand(store, serviceStream('resumed'), serviceDecider, command, { actor, now: new Date() });
    const recorded = async () => collect(store.readStream(serviceStream('resumed')));
    const until = async (type: string) => {
      await expect.poll(async () => (await recorded()).map((e) => e.type), { timeout: 30_000 }).toContain(type);
    };
    const reconciler = new ServiceReconciler(store, driver, { log: (line) => logs.push(line) });
    try {
      await issue({ type: 'RegisterService', service: 'resumed', source: 'fleet' });
      const request = { service: 'resumed', deploymentId: 'd-1', release: 'v1.3.0' } as const;
      await issue({ type: 'RequestDeployment', ...request, now: new Date() });
      // The dead Failsafe: it started the deployment, set the image, and its lease ran out.
      const dead = { replica: 'dead-1', host: 'gone', pid: 1 };
      const lapsed = new Date(Date.now() - 1000).toISOString();
      await issue({ type: 'StartDeployment', ...request, lease: { executor: dead, until: lapsed } });
      const image = 'server=example.test/mcp/search:v1.3.0';
      await cluster.kubectl(['set', 'image', 'deployment/resumed', image, '-n', FLEET]);
      const generation = (await get('deployment', 'resumed')).metadata.generation;

      await reconciler.start();
      await until('DeploymentHealthy');
      const types = (await recorded()).map((e) => e.type);
      expect(types.slice(types.indexOf('DeploymentStarted'))).toEqual([
        'DeploymentStarted',
        'ExecutionTakenOver',
        'DeploymentHealthy',
      ]);
      expect((await get('deployment', 'resumed')).metadata.generation).toBe(generation);
      expect((await replicaSets('resumed')).map(revision).sort()).toEqual([1, 2]);

      await issue({ type: 'RequestScale', service: 'resumed', scaleId: 's-1', replicas: 3, reason: 'peak' }, 'alice');
      await until('ScaleCompleted');
      const events = await recorded();
      expect(events.find((e) => e.type === 'ScaleRequested')!.metadata).toMatchObject({ actor: 'alice' });
      expect(events.find((e) => e.type === 'ScaleCompleted')!.data).toMatchObject({ replicas: 3, instances: 3 });
      expect((await get('deployment', 'resumed')).status).toMatchObject({ availableReplicas: 3, replicas: 3 });
    } finally {
      await reconciler.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
