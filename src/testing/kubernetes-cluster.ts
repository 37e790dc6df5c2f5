/**
 * A throwaway Kubernetes control plane on loopback, from the binaries `scripts/provision.sh` builds
 * (see ../shared/REAL-TOOLS.md): etcd, kube-apiserver (RBAC on, a token file for the admin),
 * kube-controller-manager, kube-scheduler, and kwok simulating the nodes and pods. kwok makes
 * scheduled pods Running and Ready, but no container runs: nothing answers on a pod's address.
 *
 *   const cluster = await startKubernetesCluster();       // about 5 s
 *   await cluster.kubectl(['apply', '-f', file]);         // as the admin
 *   const kubeconfig = await cluster.serviceAccountKubeconfig('failsafe', 'failsafe');
 *   await cluster.stop();
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from '../drills/toxiproxy.js';
import { toolsDir } from '../tools/tools-dir.js';

/** Pinned in scripts/provision.sh too. */
export const KUBERNETES_VERSION = '1.37.2';

const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'kwok'] as const;

export class KubernetesMissing extends Error {
  readonly code = 'KUBERNETES_MISSING';
  constructor(tools: string) {
    super(
      `KubernetesMissing: no Kubernetes ${KUBERNETES_VERSION} control plane built in ${tools}; ` +
        'run `bash scripts/provision.sh kubernetes` (about 10 minutes the first time)',
    );
    this.name = 'KubernetesMissing';
  }
}

/**
 * The newest complete build: provision.sh keys its folder by a hash of scripts/kubernetes/, and
 * runs before every `npm test`, so the newest is the one the current modules made.
 */
export function kubernetesBinDir(env: NodeJS.ProcessEnv = process.env): string {
  const tools = toolsDir(env);
  const builds = existsSync(tools)
    ? readdirSync(tools)
        .filter((name) => name.startsWith(`kubernetes-${KUBERNETES_VERSION}-`) && !name.includes('.build'))
        .map((name) => join(tools, name))
        .filter((dir) => BINARIES.every((binary) => existsSync(join(dir, binary))))
        .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
    : [];
  if (!builds[0]) throw new KubernetesMissing(tools);
  return builds[0];
}

export interface KubernetesCluster {
  /** The API server, `https://127.0.0.1:<port>` (a self-signed certificate: kubeconfigs skip verification). */
  readonly server: string;
  /** A kubeconfig file for the admin (group system:masters). */
  readonly adminKubeconfig: string;
  /** The kubectl built from the same modules as the server. */
  readonly kubectlPath: string;
  /** The kwok node pods are scheduled on. */
  readonly nodeName: string;
  /** Runs kubectl (as the admin unless `kubeconfig` says otherwise); its stdout, or a rejection with its stderr. */
  kubectl(args: readonly string[], options?: { kubeconfig?: string; stdin?: string }): Promise<string>;
  /** A kubeconfig file holding a fresh token of this ServiceAccount, created if missing. */
  serviceAccountKubeconfig(namespace: string, name: string): Promise<string>;
  stop(): Promise<void>;
}

export interface KubernetesClusterOptions {
  /** The longest to wait for each component (default 60 s; the API server takes about 2 s here). */
  readonly readyTimeoutMs?: number;
}

const run = promisify(execFile);

function kubeconfigYaml(server: string, user: string, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: failsafe-test',
    '  cluster:',
    `    server: ${server}`,
    '    insecure-skip-tls-verify: true',
    'users:',
    `- name: ${user}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: failsafe-test',
    '  context:',
    '    cluster: failsafe-test',
    `    user: ${user}`,
    'current-context: failsafe-test',
    '',
  ].join('\n');
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>, exited: () => string | undefined) {
  for (let waited = 0; waited < timeoutMs; waited += 100) {
    const died = exited();
    if (died) throw new Error(`${what} is not ready: ${died}`);
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what} was not ready in ${timeoutMs} ms`);
}

/** Starts the whole control plane and one kwok node, ready for Deployments (about 5 s). */
export async function startKubernetesCluster(options: KubernetesClusterOptions = {}): Promise<KubernetesCluster> {
  const bin = kubernetesBinDir();
  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  const dir = mkdtempSync(join(tmpdir(), 'failsafe-kubernetes-'));
  const children: { name: string; child: ChildProcess; output: string }[] = [];
  const killAll = () => {
    for (const { child } of children) child.kill('SIGKILL');
  };
  process.once('exit', killAll);

  const start = (name: (typeof BINARIES)[number], args: readonly string[]) => {
    const child = spawn(join(bin, name), args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const entry = { name, child, output: '' };
    // Only the tail is kept, for the error when it dies early; a full pipe would block it.
    const keep = (chunk: Buffer) => (entry.output = (entry.output + chunk.toString()).slice(-4000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    children.push(entry);
    return () =>
      child.exitCode !== null || child.signalCode !== null
        ? `${name} exited (${child.exitCode ?? child.signalCode}): ${entry.output}`
        : undefined;
  };

  const stop = async () => {
    process.off('exit', killAll);
    for (const { child } of [...children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const [etcdPort, peerPort, apiPort, kwokPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcdExited = start('etcd', [
      '--name=failsafe-test',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=failsafe-test=http://127.0.0.1:${peerPort}`,
      // A throwaway cluster: no fsync, which costs seconds per write on a loaded disk.
      '--unsafe-no-fsync',
      '--log-level=error',
    ]);
    await until('etcd', timeoutMs, async () => (await fetch(`${etcdUrl}/health`)).ok, etcdExited);

    const keyFile = join(dir, 'service-account.key');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }));
    const adminToken = randomBytes(24).toString('hex');
    const tokens = join(dir, 'tokens.csv');
    writeFileSync(tokens, `${adminToken},failsafe-test-admin,failsafe-test-admin,system:masters\n`);
    mkdirSync(join(dir, 'certs'));
    const server = `https://127.0.0.1:${apiPort}`;
    const apiExited = start('kube-apiserver', [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      // The `kubernetes` Service's endpoints may not be loopback; nothing in the tests uses them.
      '--endpoint-reconciler-type=none',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'certs')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${keyFile}`,
      `--service-account-signing-key-file=${keyFile}`,
      `--token-auth-file=${tokens}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.96.0.0/16',
    ]);
    // The certificate is self-signed for this run: readiness is asked through kubectl, which can skip verification.
    const adminKubeconfig = join(dir, 'admin.kubeconfig');
    writeFileSync(adminKubeconfig, kubeconfigYaml(server, 'failsafe-test-admin', adminToken));
    const kubectlPath = join(bin, 'kubectl');
    const kubectl = async (args: readonly string[], { kubeconfig = adminKubeconfig, stdin = '' } = {}) => {
      const child = run(kubectlPath, [`--kubeconfig=${kubeconfig}`, ...args], { cwd: dir, maxBuffer: 64 << 20 });
      child.child.stdin?.end(stdin);
      try {
        return (await child).stdout;
      } catch (error) {
        const { stderr } = error as { stderr?: string };
        throw new Error(`kubectl ${args.join(' ')} failed: ${stderr?.trim() || (error as Error).message}`);
      }
    };
    await until(
      'kube-apiserver',
      timeoutMs,
      async () => (await kubectl(['get', '--raw=/readyz'])).trim() === 'ok',
      apiExited,
    );

    const components = ['--leader-elect=false', `--kubeconfig=${adminKubeconfig}`];
    const managerExited = start('kube-controller-manager', [
      ...components,
      '--secure-port=0',
      `--service-account-private-key-file=${keyFile}`,
      '--use-service-account-credentials=false',
    ]);
    const schedulerExited = start('kube-scheduler', [...components, '--secure-port=0']);
    const nodeName = 'kwok-node-0';
    await kubectl(['apply', '-f', '-'], {
      stdin: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: nodeName,
          annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'kwok.x-k8s.io/node': 'fake' },
          labels: { type: 'kwok', 'kubernetes.io/hostname': nodeName },
        },
      }),
    });
    const kwokExited = start('kwok', [
      `--kubeconfig=${adminKubeconfig}`,
      '--manage-all-nodes=true',
      `--config=${join(bin, 'kwok-stages.yaml')}`,
      `--server-address=127.0.0.1:${kwokPort}`,
      // Heartbeats through the node's Lease: without them the node lifecycle controller finds the node
      // silent after its grace period (about 50 s) and marks every pod on it not Ready, for good.
      '--node-lease-duration-seconds=40',
    ]);
    const anyExited = () => managerExited() ?? schedulerExited() ?? kwokExited();
    await until(
      'the kwok node',
      timeoutMs,
      async () =>
        (await kubectl(['get', 'node', nodeName, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])) ===
        'True',
      anyExited,
    );
    // Pods are only created once the namespace's default ServiceAccount exists (the controller manager makes it).
    await until(
      'the default ServiceAccount',
      timeoutMs,
      async () => (await kubectl(['get', 'serviceaccount', 'default', '-o', 'name'])).trim() !== '',
      anyExited,
    );

    const serviceAccountKubeconfig = async (namespace: string, name: string) => {
      const manifests = [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } },
      ];
      await kubectl(['apply', '-f', '-'], { stdin: manifests.map((m) => JSON.stringify(m)).join('\n') });
      const token = (await kubectl(['create', 'token', name, '-n', namespace, '--duration=1h'])).trim();
      const file = join(dir, `${namespace}.${name}.kubeconfig`);
      writeFileSync(file, kubeconfigYaml(server, `system:serviceaccount:${namespace}:${name}`, token));
      return file;
    };

    return { server, adminKubeconfig, kubectlPath, nodeName, kubectl, serviceAccountKubeconfig, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
