import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KubernetesCluster, startKubernetesCluster } from './kubernetes-cluster.js';

describe('the throwaway Kubernetes control plane', () => {
  let cluster: KubernetesCluster;
  beforeAll(async () => {
    cluster = await startKubernetesCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('reports the version the control plane was built at', async () => {
    const version = JSON.parse(await cluster.kubectl(['version', '-o', 'json']));
    expect(version.serverVersion.gitVersion).toBe('v1.37.2');
    expect(version.clientVersion.gitVersion).toBe('v1.37.2');
  });

  it('schedules a Deployment on the kwok node and reports its pods ready', async () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'probe', namespace: 'default' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'probe' } },
        template: {
          metadata: { labels: { app: 'probe' } },
          spec: { containers: [{ name: 'server', image: 'example.test/probe:v1' }] },
        },
      },
    };
    await cluster.kubectl(['apply', '-f', '-'], { stdin: JSON.stringify(deployment) });
    await cluster.kubectl(['rollout', 'status', 'deployment/probe', '--timeout=60s']);
    const pods = JSON.parse(await cluster.kubectl(['get', 'pods', '-l', 'app=probe', '-o', 'json']));
    expect(pods.items).toHaveLength(2);
    for (const pod of pods.items) {
      expect(pod.spec.nodeName).toBe(cluster.nodeName);
      expect(pod.status.phase).toBe('Running');
    }
  });

  it('gives a new ServiceAccount no rights until a Role grants them', async () => {
    const kubeconfig = await cluster.serviceAccountKubeconfig('fleet', 'nobody');
    const denied = cluster.kubectl(['get', 'deployments', '-n', 'fleet'], { kubeconfig });
    await expect(denied).rejects.toThrow(/forbidden.*system:serviceaccount:fleet:nobody/i);
  });
});
