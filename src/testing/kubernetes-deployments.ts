/**
 * MCP services as Deployments on the throwaway cluster (kubernetes-cluster.ts), for the end-to-end
 * tests and the benchmark: the fleet namespace with Failsafe's Role applied as an operator would,
 * Deployments whose image tag is the release, and their revisions read back through the API.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { KubernetesCluster } from './kubernetes-cluster.js';

const fleetRole = fileURLToPath(new URL('../../kubernetes/fleet-role.yaml', import.meta.url));

/** The image of a release of a test service, as the fleet entry's `image: "example.test/mcp/<name>:{release}"`. */
export const testImage = (name: string, release: string): string => `example.test/mcp/${name}:${release}`;

/** The fleet entry's image template for a test service. */
export const testImageTemplate = (name: string): string => `example.test/mcp/${name}:{release}`;

/**
 * Creates the fleet namespace, applies kubernetes/fleet-role.yaml to it (its `namespace:` replaced,
 * as the file says to), and returns a kubeconfig of Failsafe's ServiceAccount (failsafe/failsafe).
 */
export async function fleetNamespace(cluster: KubernetesCluster, namespace: string): Promise<string> {
  const kubeconfig = await cluster.serviceAccountKubeconfig('failsafe', 'failsafe');
  await cluster.kubectl(['create', 'namespace', namespace]);
  const role = readFileSync(fleetRole, 'utf8').replace(/^(\s+namespace:) mcp-fleet$/gm, `$1 ${namespace}`);
  await cluster.kubectl(['apply', '-f', '-'], { stdin: role });
  return kubeconfig;
}

export interface TestDeployment {
  readonly namespace: string;
  readonly name: string;
  readonly release: string;
  readonly replicas?: number;
  /** Each new pod counts as available only this long after it is ready: a rollout that takes time. */
  readonly minReadySeconds?: number;
  readonly progressDeadlineSeconds?: number;
  /**
   * Pods are scheduled only on a node with this label: remove it from the node, and the pods of a
   * new revision stay Pending while those already running keep running (the label is not re-checked).
   */
  readonly nodeLabel?: string;
}

/** Creates the Deployment (one container, `server`) and waits for its first rollout. */
export async function createDeployment(cluster: KubernetesCluster, d: TestDeployment): Promise<void> {
  const labels = { app: d.name };
  const manifest = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: d.name, namespace: d.namespace, labels },
    spec: {
      replicas: d.replicas ?? 2,
      revisionHistoryLimit: 10,
      minReadySeconds: d.minReadySeconds ?? 0,
      progressDeadlineSeconds: d.progressDeadlineSeconds ?? 600,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          ...(d.nodeLabel && { nodeSelector: { [d.nodeLabel]: 'yes' } }),
          containers: [{ name: 'server', image: testImage(d.name, d.release) }],
        },
      },
    },
  };
  await cluster.kubectl(['apply', '-f', '-'], { stdin: JSON.stringify(manifest) });
  await cluster.kubectl(['rollout', 'status', `deployment/${d.name}`, '-n', d.namespace, '--timeout=60s']);
}

/** Labels (`yes`) or unlabels (`undefined`) the cluster's node. */
export async function labelNode(cluster: KubernetesCluster, label: string, value: 'yes' | undefined): Promise<void> {
  await cluster.kubectl(['label', 'node', cluster.nodeName, '--overwrite', value ? `${label}=yes` : `${label}-`]);
}

/** One ReplicaSet of a Deployment: a revision, as `kubectl rollout history` lists them. */
export interface Revision {
  readonly replicaSet: string;
  readonly revision: number;
  /** The revisions this ReplicaSet had before (a rollback to it moves it to a new number). */
  readonly history: readonly number[];
  readonly release: string;
  readonly replicas: number;
  readonly readyReplicas: number;
}

interface ReplicaSetJson {
  metadata: { name: string; annotations?: Record<string, string>; ownerReferences?: { name: string }[] };
  spec: { replicas?: number; template: { spec: { containers: { image: string }[] } } };
  status: { readyReplicas?: number };
}

/** The Deployment's ReplicaSets, oldest revision first, read through the API as the admin. */
export async function revisions(cluster: KubernetesCluster, namespace: string, name: string): Promise<Revision[]> {
  const list = JSON.parse(await cluster.kubectl(['get', 'replicasets', '-n', namespace, '-o', 'json'])) as {
    items: ReplicaSetJson[];
  };
  return list.items
    .filter((rs) => rs.metadata.ownerReferences?.some((o) => o.name === name))
    .map((rs) => {
      const annotations = rs.metadata.annotations ?? {};
      const history = annotations['deployment.kubernetes.io/revision-history'];
      return {
        replicaSet: rs.metadata.name,
        revision: Number(annotations['deployment.kubernetes.io/revision']),
        history: history ? history.split(',').map(Number) : [],
        release: rs.spec.template.spec.containers[0]!.image.split(':').at(-1)!,
        replicas: rs.spec.replicas ?? 0,
        readyReplicas: rs.status.readyReplicas ?? 0,
      };
    })
    .sort((a, b) => a.revision - b.revision);
}

/** The release the Deployment's pod template names now. */
export async function templateRelease(cluster: KubernetesCluster, namespace: string, name: string): Promise<string> {
  const image = await cluster.kubectl([
    'get',
    'deployment',
    name,
    '-n',
    namespace,
    '-o',
    'jsonpath={.spec.template.spec.containers[0].image}',
  ]);
  return image.split(':').at(-1)!;
}
