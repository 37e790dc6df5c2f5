/**
 * What the pods of a Deployment would push with `telemetry: push` if they ran. kwok's pods run no
 * container, so this plays their part: every interval, for each Ready pod of the Deployment (read
 * through the API), one health sample of the release its image tag names, with the figures that
 * release of the sample fleet shows (`app.errorRate` and `app.addedLatencyMs` of
 * drills/sample-fleet/releases/<release>/release.yaml), published to Kafka as a pushing service does.
 * The health a test sees thus follows the release the cluster really runs, pod by pod.
 */
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { sampleReleaseSchema } from '../../drills/sample-fleet/server/sample-release.js';
import type { EventData } from '../events/catalogue.js';
import { TelemetryPublisher } from '../kafka/telemetry-publisher.js';

const releasesDir = fileURLToPath(new URL('../../drills/sample-fleet/releases/', import.meta.url));

export interface PodTelemetryOptions {
  /** A kubeconfig allowed to list the namespace's pods (the admin's). */
  readonly kubeconfig: string;
  readonly namespace: string;
  /** The Deployment's pod label `app=<deployment>`. */
  readonly deployment: string;
  /** The Failsafe service the samples are of. */
  readonly service: string;
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly intervalMs?: number;
}

export interface PodTelemetry {
  /** Samples published so far, per release. */
  published(): Readonly<Record<string, number>>;
  stop(): Promise<void>;
}

/** A sample fleet release's behaviour; an unknown release behaves well. */
function behaviourOf(release: string) {
  const file = `${releasesDir}${release}/release.yaml`;
  const app = existsSync(file) ? (parse(readFileSync(file, 'utf8')) as { app?: unknown }).app : undefined;
  return sampleReleaseSchema.parse(app ?? {});
}

const REQUESTS_PER_SAMPLE = 40;

export function pushPodTelemetry(options: PodTelemetryOptions): PodTelemetry {
  const config = new KubeConfig();
  config.loadFromFile(options.kubeconfig);
  const pods = config.makeApiClient(CoreV1Api);
  const publisher = new TelemetryPublisher({ brokers: options.brokers, topic: options.topic, clientId: 'kwok-pods' });
  const counts: Record<string, number> = {};

  const sampleOf = (instance: string, release: string): EventData<'HealthSampleRecorded'> => {
    const { errorRate, addedLatencyMs } = behaviourOf(release);
    const errors = Math.round(REQUESTS_PER_SAMPLE * errorRate);
    return {
      service: options.service,
      instance,
      release,
      sampledAt: new Date().toISOString(),
      healthy: true,
      healthLatencyMs: 3,
      mcp: { protocolVersion: '2025-11-25', toolCount: 5, initializeLatencyMs: 6 },
      requests: { total: REQUESTS_PER_SAMPLE, errors },
      errorRate: errors / REQUESTS_PER_SAMPLE,
      latencyMs: { p50: 12 + addedLatencyMs, p95: 30 + addedLatencyMs, p99: 45 + addedLatencyMs },
      memory: { usedRatio: 0.3 },
    };
  };

  const round = async () => {
    const list = await pods.listNamespacedPod({
      namespace: options.namespace,
      labelSelector: `app=${options.deployment}`,
    });
    for (const pod of list.items) {
      const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      if (!ready || pod.metadata?.deletionTimestamp) continue;
      const release = pod.spec!.containers[0]!.image!.split(':').at(-1)!;
      publisher.publish(sampleOf(pod.metadata!.name!, release));
      counts[release] = (counts[release] ?? 0) + 1;
    }
  };
  let running: Promise<void> = Promise.resolve();
  // Rounds never overlap: a slow API answer delays the next round rather than doubling it.
  const timer = setInterval(() => {
    running = running.then(round).catch(() => undefined);
  }, options.intervalMs ?? 1000);

  return {
    published: () => ({ ...counts }),
    async stop() {
      clearInterval(timer);
      await running;
      await publisher.stop();
    },
  };
}
