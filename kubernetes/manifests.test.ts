import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadFleetConfig } from '../src/config/fleet-config.js';
import { STORE_FILE } from '../src/config/serve-config.js';
import { entrypointEnv, imageEnv, readByServe } from '../src/testing/container-env.js';
import { type KubernetesCluster, startKubernetesCluster } from '../src/testing/kubernetes-cluster.js';
import { type ServeProcess, startServeProcess } from '../src/testing/serve-process.js';

const here = fileURLToPath(new URL('./', import.meta.url));
const FILES = ['failsafe.yaml', 'admin-token-secret.yaml.example', 'fleet-role.yaml'].map((f) => join(here, f));

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  [field: string]: unknown;
}
interface Probe {
  httpGet: { path: string; port: number | string; httpHeaders?: { name: string; value: string }[] };
}
interface Container {
  name: string;
  image: string;
  env: { name: string; value: string }[];
  ports: { name: string; containerPort: number }[];
  startupProbe: Probe;
  livenessProbe: Probe;
  readinessProbe: Probe;
  volumeMounts: { name: string; mountPath: string; subPath?: string }[];
}
interface PodSpec {
  containers: Container[];
  volumes: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[];
}

const manifests = (file: string) =>
  parseAllDocuments(readFileSync(file, 'utf8')).map((document) => document.toJS() as Manifest);
const all = FILES.flatMap(manifests);
const find = (kind: string, name: string) => all.find((m) => m.kind === kind && m.metadata.name === name)!;
const deployment = find('Deployment', 'failsafe') as Manifest & {
  spec: { replicas: number; strategy: { type: string }; template: { spec: PodSpec } };
};
const pod = deployment.spec.template.spec;
const container = pod.containers[0]!;
const configMaps = all.filter((m) => m.kind === 'ConfigMap') as (Manifest & { data: Record<string, string> })[];
const secret = find('Secret', 'failsafe-admin-token') as Manifest & { stringData: Record<string, string> };
const role = find('Role', 'failsafe-driver');
const binding = find('RoleBinding', 'failsafe-driver') as Manifest & {
  subjects: { name: string; namespace: string }[];
};
const fleetNamespace = role.metadata.namespace!;

/**
 * The pod's files written under `dir`: each ConfigMap and Secret volume at its mount path (a subPath
 * mount as its one file). Returns the path in `dir` standing for a path in the container.
 */
function mountVolumes(dir: string): (path: string) => string {
  for (const mount of container.volumeMounts) {
    const volume = pod.volumes.find((v) => v.name === mount.name)!;
    const data = volume.configMap
      ? configMaps.find((m) => m.metadata.name === volume.configMap!.name)!.data
      : volume.secret?.secretName === secret.metadata.name
        ? secret.stringData
        : undefined;
    if (!data) continue;
    const files = mount.subPath ? { [mount.subPath]: data[mount.subPath]! } : data;
    const at = join(dir, mount.subPath ? dirname(mount.mountPath) : mount.mountPath);
    mkdirSync(at, { recursive: true });
    for (const [name, content] of Object.entries(files)) writeFileSync(join(at, name), content);
  }
  return (path: string) => (path.startsWith('/') && !path.startsWith(dir) ? join(dir, path) : path);
}

/**
 * What `serve` sees in the pod, paths into `dir`: the image's ENV, the Deployment's env and what the
 * image's entrypoint adds from /run/secrets, where the admin token is mounted.
 */
function podEnv(dir: string): Record<string, string> {
  const inDir = mountVolumes(dir);
  const given = Object.fromEntries(container.env.map(({ name, value }) => [name, value]));
  const env = Object.fromEntries(
    Object.entries({ ...imageEnv(), ...given }).map(([name, value]) => [name, inDir(value)]),
  );
  return { ...env, ...entrypointEnv(inDir('/run/secrets'), join(dir, 'generated.yaml'), env) };
}

/** GET on Failsafe's own address, with a Host header of our choosing (fetch forbids setting it). */
function get(url: string, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject).end();
  });
}

describe('Failsafe on Kubernetes (kubernetes/*.yaml, on a real control plane with kwok)', () => {
  let cluster: KubernetesCluster;
  let serve: ServeProcess;
  let dir: string;
  let failsafeKubeconfig: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-k8s-manifests-'));
    cluster = await startKubernetesCluster();
    // The account's token, as the pod would hold it; its namespace is created here, before the
    // manifests (a server-side dry run cannot place objects in a namespace that does not exist yet).
    failsafeKubeconfig = await cluster.serviceAccountKubeconfig(
      binding.subjects[0]!.namespace,
      binding.subjects[0]!.name,
    );
    // The fleet's namespace is the fleet operator's: it exists before Failsafe is given a Role in it.
    await cluster.kubectl(['create', 'namespace', fleetNamespace]);
    // No provisioner here: a volume for the claim to bind, as a cluster's default StorageClass would make.
    // Made first, the claim binds at once (else the pod waits for the scheduler's retry, about 10 s).
    const volume = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'failsafe-data-test' },
      spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: join(dir, 'pv') } },
    };
    await cluster.kubectl(['apply', '-f', '-'], { stdin: JSON.stringify(volume) });
  });

  afterAll(async () => {
    await serve?.stop();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes the API server validation (server-side dry run), then applies', async () => {
    const files = FILES.flatMap((file) => ['-f', file]);
    const dryRun = await cluster.kubectl(['apply', '--dry-run=server', ...files]);
    expect(dryRun.trim().split('\n')).toHaveLength(all.length);
    // The dry run checks fields strictly: a misspelt one is refused, not dropped.
    const misspelt = JSON.stringify({ ...deployment, spec: { ...deployment.spec, replica: 1 } });
    await expect(cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], { stdin: misspelt })).rejects.toThrow(
      /unknown field "spec.replica"/,
    );

    // The example Secret's placeholder must never replace a real token: a folder's apply skips it.
    const folder = await cluster.kubectl(['apply', '--dry-run=server', '-f', here]);
    expect(folder).not.toContain('secret/');
    expect(folder.trim().split('\n')).toHaveLength(all.length - 1);

    await cluster.kubectl(['apply', ...files]);
    const created = (await cluster.kubectl(['get', ...files, '-o', 'name'])).trim().split('\n');
    expect(created.map((name) => name.split('/')[1]).sort()).toEqual(all.map((m) => m.metadata.name).sort());
    expect(all.map((m) => m.kind)).not.toContain('ClusterRole');
    expect(all.map((m) => m.kind)).not.toContain('ClusterRoleBinding');
  });

  it('rolls Failsafe out on kwok: one pod, its data on a bound volume, the account token mounted', async () => {
    expect(deployment.spec).toMatchObject({ replicas: 1, strategy: { type: 'Recreate' } });
    await cluster.kubectl(['-n', 'failsafe', 'rollout', 'status', 'deployment/failsafe', '--timeout=30s']);

    const status = JSON.parse(await cluster.kubectl(['-n', 'failsafe', 'get', 'deployment', 'failsafe', '-o', 'json']));
    expect(status.status.availableReplicas).toBe(1);
    const claim = await cluster.kubectl([
      '-n',
      'failsafe',
      'get',
      'pvc',
      'failsafe-data',
      '-o',
      'jsonpath={.status.phase}',
    ]);
    expect(claim).toBe('Bound');
    const pods = JSON.parse(await cluster.kubectl(['-n', 'failsafe', 'get', 'pods', '-o', 'json'])).items;
    expect(pods).toHaveLength(1);
    expect(pods[0].spec.serviceAccountName).toBe('failsafe');
    // The admission plugin mounts the account's token: the driver's in-cluster configuration.
    const volumes = (pods[0].spec.volumes as { name: string }[]).map((v) => v.name);
    expect(volumes.some((name) => name.startsWith('kube-api-access-'))).toBe(true);
    expect(pods[0].spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
  });

  it('runs the image compose builds, under the tag compose gives it', () => {
    const compose = parse(readFileSync(join(here, '..', 'compose', 'compose.yaml'), 'utf8')) as {
      services: { failsafe: { image: string } };
    };
    expect(container.image).toBe(compose.services.failsafe.image);
  });

  it('gives Failsafe only variables `serve` reads, and they load: admin token, config file, port', () => {
    const env = podEnv(join(dir, 'env'));
    const { config, unread } = readByServe(env);
    expect(unread, 'variables Failsafe never reads').toEqual([]);
    expect(config.adminToken).toBe(secret.stringData.admin_token);
    // The data folder, and the embedded store in it, are on the volume.
    const mountOf = (volume: string) =>
      join(dir, 'env', container.volumeMounts.find((m) => m.name === volume)!.mountPath);
    expect(config.dataDir).toBe(mountOf('data'));
    expect(config.store).toEqual({ kind: 'sqlite', path: join(mountOf('data'), STORE_FILE) });
    expect(config.host).toBe('0.0.0.0');
    expect(container.ports.map((p) => p.containerPort)).toEqual([config.port]);
    // Clients reach Failsafe through its Service: its names must be accepted Host headers.
    expect(config.allowedHosts).toEqual(expect.arrayContaining(['failsafe.failsafe.svc', 'failsafe']));
    expect(config.fleetPath).toBe(join(mountOf('config'), 'fleet.yaml'));
  });

  it("binds the fleet Role to Failsafe's ServiceAccount, in the namespace of every service of the sample fleet", () => {
    const account = find('ServiceAccount', 'failsafe') as Manifest & { automountServiceAccountToken: boolean };
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: account.metadata.name, namespace: account.metadata.namespace },
    ]);
    expect(account.automountServiceAccountToken).toBe(true);
    const fleetFile = join(dir, 'fleet.yaml');
    writeFileSync(fleetFile, configMaps[0]!.data['fleet.yaml']!);
    // Read as `serve --fleet` reads it: a sample the fleet schema refuses would fail here.
    const fleet = loadFleetConfig(fleetFile);
    const namespaces = new Set(
      Object.values(fleet.services).map((s) => (s.driver === 'kubernetes' ? s.namespace : undefined)),
    );
    expect([...namespaces]).toEqual([fleetNamespace]);
  });

  it('probes paths the real `serve` answers 200 on, on its port, with a Host header it accepts', async () => {
    const env = podEnv(join(dir, 'serve'));
    // Without the fleet: its driver would look for the cluster's in-pod credentials, which only a pod has.
    const { FAILSAFE_FLEET: _fleet, ...withoutFleet } = env;
    serve = await startServeProcess({
      dataDir: join(dir, 'serve', 'var/lib/failsafe'),
      env: { ...withoutFleet, MCP_HTTP_HOST: '127.0.0.1' },
    });
    const { port } = readByServe(env).config;
    const probes = [container.startupProbe, container.livenessProbe, container.readinessProbe];
    expect(probes.map((p) => p.httpGet.path).sort()).toEqual(['/health', '/health', '/ready']);
    for (const { httpGet } of probes) {
      const named = container.ports.find((p) => p.name === httpGet.port)?.containerPort ?? httpGet.port;
      expect(named).toBe(port);
      const host = httpGet.httpHeaders?.find((h) => h.name.toLowerCase() === 'host')?.value;
      expect(host, `${httpGet.path}: the kubelet's default Host, the pod IP, is refused`).toBeDefined();
      expect(await get(serve.url, httpGet.path, host!), `GET ${httpGet.path} Host: ${host}`).toBe(200);
      // What the kubelet would send without the header: refused (DNS rebinding protection).
      expect(await get(serve.url, httpGet.path, `10.244.0.7:${port}`)).toBe(403);
    }
  });

  describe(`RBAC: Failsafe's ServiceAccount token, the Role applied in ${fleetNamespace}`, () => {
    const run = promisify(execFile);
    /** kubectl as Failsafe's ServiceAccount: exit status 0 or its error output. */
    const asFailsafe = (args: string[]) =>
      run(cluster.kubectlPath, [`--kubeconfig=${failsafeKubeconfig}`, ...args]).then(
        ({ stdout }) => ({ ok: true, output: stdout }),
        (error: { stdout: string; stderr: string }) => ({ ok: false, output: error.stdout + error.stderr }),
      );
    const canI = async (...args: string[]) => (await asFailsafe(['auth', 'can-i', ...args])).output.split('\n')[0];

    beforeAll(async () => {
      const deploymentIn = (namespace: string) => [
        'create',
        'deployment',
        'search',
        '--image=mcp/search:1',
        '-n',
        namespace,
      ];
      await cluster.kubectl(deploymentIn(fleetNamespace));
      await cluster.kubectl(deploymentIn('default'));
    });

    it('may read and patch Deployments, their scale, ReplicaSets and Pods in the fleet namespace', async () => {
      const ns = ['-n', fleetNamespace];
      for (const args of [
        ['get', 'deployments', ...ns],
        ['get', 'deployment', 'search', ...ns],
        ['get', 'replicasets,pods', ...ns],
        ['set', 'image', 'deployment/search', 'search=mcp/search:2', ...ns],
        ['scale', 'deployment/search', '--replicas=2', ...ns],
      ]) {
        const { ok, output } = await asFailsafe(args);
        expect(ok, `kubectl ${args.join(' ')}: ${output}`).toBe(true);
      }
      const image = await cluster.kubectl([
        'get',
        'deployment',
        'search',
        ...ns,
        '-o',
        'jsonpath={.spec.template.spec.containers[0].image}',
      ]);
      expect(image).toBe('mcp/search:2');
      expect(await cluster.kubectl(['get', 'deployment', 'search', ...ns, '-o', 'jsonpath={.spec.replicas}'])).toBe(
        '2',
      );
      for (const resource of ['deployments', 'replicasets', 'pods'])
        expect(await canI('watch', resource, ...ns), `watch ${resource}`).toBe('yes');
      expect(await canI('patch', 'deployments', '--subresource=scale', ...ns)).toBe('yes');
    });

    it('is refused (403) outside the fleet namespace, creating or deleting, Secrets, nodes, cluster-wide', async () => {
      const patch = ['--type=merge', '-p', '{"spec":{"replicas":3}}'];
      for (const args of [
        ['patch', 'deployment', 'search', '-n', 'default', ...patch],
        // None there: authorization comes before the lookup, so 403 rather than 404.
        ['patch', 'deployment', 'coredns', '-n', 'kube-system', ...patch],
        ['set', 'image', 'deployment/search', 'search=mcp/search:evil', '-n', 'default'],
        ['create', 'deployment', 'other', '--image=x', '-n', fleetNamespace],
        ['delete', 'deployment', 'search', '-n', fleetNamespace],
        ['get', 'secrets', '-n', fleetNamespace],
        ['get', 'secret', 'failsafe-admin-token', '-n', 'failsafe'],
        ['get', 'nodes'],
        ['get', 'deployments', '--all-namespaces'],
        ['get', 'namespaces'],
      ]) {
        const { ok, output } = await asFailsafe(args);
        expect(ok, `kubectl ${args.join(' ')} was allowed`).toBe(false);
        expect(output, `kubectl ${args.join(' ')}`).toMatch(/Forbidden|forbidden/);
      }
      expect(
        await cluster.kubectl(['get', 'deployment', 'search', '-n', 'default', '-o', 'jsonpath={.spec.replicas}']),
      ).toBe('1');
      for (const args of [
        ['update', 'deployments', '-n', fleetNamespace],
        ['delete', 'pods', '-n', fleetNamespace],
        ['create', 'pods', '-n', fleetNamespace],
        ['patch', 'deployments', '-n', 'failsafe'],
        ['*', '*', '--all-namespaces'],
        ['create', 'clusterrolebindings'],
      ])
        expect(await canI(...args), args.join(' ')).toBe('no');
    });
  });
});
