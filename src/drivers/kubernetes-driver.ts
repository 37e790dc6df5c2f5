import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Container,
  type V1Deployment,
  type V1EnvVar,
  type V1PodTemplateSpec,
  type V1ReplicaSet,
} from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { identifier } from '../events/common-schemas.js';
import {
  noFeatureFlags,
  UnknownService,
  UnsafeName,
  type ActionContext,
  type FeatureFlags,
  type Instance,
  type TargetDriver,
} from './target-driver.js';

export interface KubernetesServiceConfig {
  readonly namespace: string;
  readonly deployment: string;
  /** Optional when the pod template has exactly one container. */
  readonly container?: string | undefined;
  /** The image of a release: `{release}` stands for its name (the tag). */
  readonly image: string;
  /** The Service or ingress URL: every instance is probed there (a pod's own address may answer nowhere). */
  readonly address: string;
  /** Absent: KUBECONFIG, ~/.kube/config, or the pod's ServiceAccount in the cluster. */
  readonly kubeconfig?: string | undefined;
  /** Failsafe's own bound on following a rollout (default 600). */
  readonly rolloutTimeoutSeconds?: number | undefined;
}

export interface KubernetesDriverOptions {
  readonly services: Readonly<Record<string, KubernetesServiceConfig>>;
  readonly log?: (line: string) => void;
  /** Between two reads of a Deployment while following its rollout (default 250 ms). */
  readonly pollMs?: number;
}

/** A rollout that did not complete: the Deployment's previous ReplicaSet keeps its ready pods. */
export class RolloutFailed extends Error {
  readonly code = 'ROLLOUT_FAILED';
  constructor(
    readonly service: string,
    { namespace, deployment }: KubernetesServiceConfig,
    why: string,
  ) {
    super(
      `RolloutFailed: ${namespace}/${deployment} (${service}) ${why}; the previous ReplicaSet keeps serving ` +
        `(kubectl rollout status deployment/${deployment} -n ${namespace} tells more)`,
    );
    this.name = 'RolloutFailed';
  }
}

const refusals: Record<number, { name: string; code: string; todo: (namespace: string) => string }> = {
  403: {
    name: 'Forbidden',
    code: 'KUBERNETES_FORBIDDEN',
    todo: (namespace) => `apply kubernetes/fleet-role.yaml to ${namespace} for Failsafe's ServiceAccount`,
  },
  404: {
    name: 'NotFound',
    code: 'KUBERNETES_NOT_FOUND',
    todo: (namespace) => `check the service's namespace (${namespace}) and deployment in the fleet file`,
  },
  409: {
    name: 'Conflict',
    code: 'KUBERNETES_CONFLICT',
    todo: () => 'someone else changed the Deployment at the same time; run the action again',
  },
  401: {
    name: 'Unauthorized',
    code: 'KUBERNETES_UNAUTHORIZED',
    todo: () => "renew the kubeconfig's token",
  },
};

/** The API server refused a request (403, 404, 409...) or could not be reached: what and what to do. */
export class KubernetesRequestFailed extends Error {
  readonly code: string;
  constructor(
    readonly service: string,
    readonly status: number | undefined,
    request: string,
    namespace: string,
    detail: string,
  ) {
    const refusal = status === undefined ? undefined : refusals[status];
    const what = refusal ? `${refusal.name}: ` : `KubernetesRequestFailed (${status ?? 'no answer'}): `;
    const todo = refusal?.todo(namespace) ?? 'check that the API server in the kubeconfig answers';
    super(`${what}${service} cannot ${request} in ${namespace}; ${todo} (API: ${detail.slice(0, 300)})`);
    this.name = refusal?.name ?? 'KubernetesRequestFailed';
    this.code = refusal?.code ?? 'KUBERNETES_REQUEST_FAILED';
  }
}

/** The Pod template's container Failsafe acts on cannot be told (several, and none named in the fleet file). */
export class ContainerUnknown extends Error {
  readonly code = 'CONTAINER_UNKNOWN';
  constructor(service: string, where: string, names: readonly string[], wanted: string | undefined) {
    super(
      `ContainerUnknown: ${where} (${service}) has containers ${names.join(', ') || 'none'}` +
        `${wanted ? `, not ${wanted}` : ''}; set \`container:\` of the service in the fleet file`,
    );
    this.name = 'ContainerUnknown';
  }
}

const CHANGE_CAUSE = 'kubernetes.io/change-cause';
const REVISION = 'deployment.kubernetes.io/revision';
/** Annotations a ReplicaSet carries that `kubectl rollout undo` does not copy back onto the Deployment. */
const NOT_RESTORED = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION,
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.deployment.rollback.to',
]);
/** A Docker tag: what `{release}` becomes in the image. */
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** The flags as the container's environment: a variable whose value is undefined is removed. */
const flagsEnv = (flags: FeatureFlags): Record<string, string | undefined> => ({
  MCP_DISABLE_TOOLS: flags.tools.length > 0 ? [...new Set(flags.tools)].sort().join(',') : undefined,
  MCP_DISABLE_AGENTS: flags.agents.length > 0 ? [...new Set(flags.agents)].sort().join(',') : undefined,
  MCP_LEGACY_MODE: flags.legacyMode ? 'true' : undefined,
});

const FLAG_NAMES = new Set(Object.keys(flagsEnv(noFeatureFlags)));

/**
 * Whether the rollout is complete, failed, or still going, judged as `kubectl rollout status`
 * does (its DeploymentStatusViewer): only once the controller observed the latest spec.
 */
export function rolloutProgress(deployment: V1Deployment): { done: boolean; failed?: string; waiting?: string } {
  const { metadata, spec, status = {} } = deployment;
  if ((metadata?.generation ?? 0) > (status.observedGeneration ?? 0))
    return { done: false, waiting: 'waiting for the controller to observe the new spec' };
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded')
    return { done: false, failed: `exceeded its progress deadline (ProgressDeadlineExceeded: ${progressing.message})` };
  const wanted = spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  if (updated < wanted) return { done: false, waiting: `${updated} of ${wanted} new replicas updated` };
  const total = status.replicas ?? 0;
  if (total > updated) return { done: false, waiting: `${total - updated} old replicas pending termination` };
  const available = status.availableReplicas ?? 0;
  if (available < updated) return { done: false, waiting: `${available} of ${updated} updated replicas available` };
  return { done: true };
}

/** The Deployment's selector in the API's label selector syntax, its matchExpressions included. */
function selectorOf(deployment: V1Deployment): string {
  const { matchLabels = {}, matchExpressions = [] } = deployment.spec?.selector ?? {};
  const operators: Record<string, (key: string, values: string) => string> = {
    In: (key, values) => `${key} in (${values})`,
    NotIn: (key, values) => `${key} notin (${values})`,
    Exists: (key) => key,
    DoesNotExist: (key) => `!${key}`,
  };
  return [
    ...Object.entries(matchLabels).map(([key, value]) => `${key}=${value}`),
    ...matchExpressions.map((e) => operators[e.operator]!(e.key, (e.values ?? []).join(','))),
  ].join(',');
}

/** The template's container a service names, or its only one. */
function containerOf(
  service: string,
  config: KubernetesServiceConfig,
  template: V1PodTemplateSpec | undefined,
): V1Container {
  const containers = template?.spec?.containers ?? [];
  const found = config.container
    ? containers.find((c) => c.name === config.container)
    : containers.length === 1
      ? containers[0]
      : undefined;
  if (found) return found;
  const where = `${config.namespace}/${config.deployment}`;
  throw new ContainerUnknown(
    service,
    where,
    containers.map((c) => c.name),
    config.container,
  );
}

/**
 * The seeds' kubectl runbook through the Kubernetes API, one Deployment per service: deploy sets
 * the container's image (`kubectl set image`), rollback puts back the template of the release's
 * ReplicaSet (`kubectl rollout undo --to-revision`), feature flags are the container's
 * MCP_DISABLE_* environment, scale patches deployments/scale; each then follows the rollout to
 * completion as `kubectl rollout status` judges it. Every step is idempotent: asked again (a
 * Failsafe restarted mid-rollout), it changes nothing already done and follows the rollout in
 * progress. Needs only kubernetes/fleet-role.yaml's verbs.
 */
export class KubernetesDriver implements TargetDriver {
  private readonly clients = new Map<string, { apps: AppsV1Api; core: CoreV1Api }>();

  constructor(private readonly options: KubernetesDriverOptions) {}

  async deploy(service: string, release: string, action?: ActionContext): Promise<Instance[]> {
    const config = this.config(service);
    const image = this.imageOf(service, release);
    const deployment = await this.read(service);
    const container = containerOf(service, config, deployment.spec?.template);
    if (container.image === image) this.log(service, `${image} already set; following its rollout`);
    else await this.setImage(service, deployment, container.name, image, `deploy ${release}`, action);
    return this.followRollout(service, `deploy of ${release}`, action);
  }

  async rollback(service: string, release: string, action?: ActionContext): Promise<Instance[]> {
    const config = this.config(service);
    const image = this.imageOf(service, release);
    const deployment = await this.read(service);
    const container = containerOf(service, config, deployment.spec?.template);
    if (container.image === image) {
      this.log(service, `${image} already set; following its rollout`);
      return this.followRollout(service, `rollback to ${release}`, action);
    }
    const replicaSet = await this.replicaSetOf(service, deployment, image);
    if (replicaSet) await this.restore(service, deployment, replicaSet, `rollback to ${release}`, action);
    else {
      this.log(service, `no ReplicaSet of ${release} is left (revisionHistoryLimit); setting its image instead`);
      await this.setImage(service, deployment, container.name, image, `rollback to ${release}`, action);
    }
    return this.followRollout(service, `rollback to ${release}`, action);
  }

  async setFeatureFlags(service: string, flags: FeatureFlags, action?: ActionContext): Promise<Instance[]> {
    for (const name of [...flags.tools, ...flags.agents])
      if (!identifier.safeParse(name).success) throw new UnsafeName(service, 'flag', name, 'is not a plain name');
    const config = this.config(service);
    const deployment = await this.read(service);
    const container = containerOf(service, config, deployment.spec?.template);
    const current = new Map((container.env ?? []).map((v) => [v.name, v.value]));
    const wanted = Object.entries(flagsEnv(flags));
    const changes = wanted.filter(([name, value]) =>
      current.has(name) ? current.get(name) !== value : value !== undefined,
    );
    if (changes.length > 0) {
      const env: V1EnvVar[] = changes.map(([name, value]) =>
        value === undefined ? ({ name, $patch: 'delete' } as V1EnvVar) : { name, value },
      );
      const cause = `set ${changes.map(([name, value]) => `${name}=${value ?? '(removed)'}`).join(' ')}`;
      await this.patch(service, deployment, PatchStrategy.StrategicMergePatch, {
        metadata: { annotations: { [CHANGE_CAUSE]: this.changeCause(cause, action) } },
        spec: { template: { spec: { containers: [{ name: container.name, env }] } } },
      });
      this.log(service, cause);
    }
    return this.followRollout(service, 'feature flags', action);
  }

  /** The seeds' scaling procedure: `kubectl scale` (deployments/scale), then every replica available. */
  async scale(service: string, replicas: number, action?: ActionContext): Promise<Instance[]> {
    const config = this.config(service);
    if (!Number.isInteger(replicas) || replicas < 0)
      throw new RangeError(`scale: ${service} replicas must be a whole number >= 0, not ${replicas}`);
    await this.request(service, 'patch deployments/scale', () =>
      this.client(config).apps.patchNamespacedDeploymentScale(
        { name: config.deployment, namespace: config.namespace, body: { spec: { replicas } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
    this.log(service, `scaled to ${replicas} replicas`);
    return this.followRollout(service, `scale to ${replicas}`, action);
  }

  /** The Deployment's ready pods, each with the release its container's image names. */
  async instances(service: string): Promise<Instance[]> {
    const config = this.config(service);
    const deployment = await this.read(service);
    const labelSelector = selectorOf(deployment);
    const pods = await this.request(service, 'list pods', () =>
      this.client(config).core.listNamespacedPod({ namespace: config.namespace, labelSelector }),
    );
    return pods.items
      .filter(
        (pod) =>
          !pod.metadata?.deletionTimestamp &&
          pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      )
      .map((pod) => {
        const image = containerOf(service, config, pod).image ?? '';
        return {
          id: pod.metadata?.name ?? '',
          service,
          release: this.releaseOf(config, image) ?? image,
          url: config.address,
          startedAt: new Date(pod.status?.startTime ?? pod.metadata?.creationTimestamp ?? 0).toISOString(),
        };
      });
  }

  async close(): Promise<void> {
    this.clients.clear();
  }

  private config(service: string): KubernetesServiceConfig {
    const config = this.options.services[service];
    if (!config) throw new UnknownService(service, Object.keys(this.options.services));
    return config;
  }

  private log(service: string, line: string) {
    const { namespace, deployment } = this.config(service);
    this.options.log?.(`${service}: ${namespace}/${deployment}: ${line}`);
  }

  /** One API client per kubeconfig: services in the same cluster share it. */
  private client(config: KubernetesServiceConfig) {
    const key = config.kubeconfig ?? '';
    let client = this.clients.get(key);
    if (!client) {
      const kubeConfig = new KubeConfig();
      if (config.kubeconfig) kubeConfig.loadFromFile(config.kubeconfig);
      else kubeConfig.loadFromDefault();
      client = { apps: kubeConfig.makeApiClient(AppsV1Api), core: kubeConfig.makeApiClient(CoreV1Api) };
      this.clients.set(key, client);
    }
    return client;
  }

  private imageOf(service: string, release: string): string {
    if (!identifier.safeParse(release).success || !IMAGE_TAG.test(release))
      throw new UnsafeName(service, 'release', release, 'is not an image tag');
    return this.config(service).image.replace('{release}', release);
  }

  /** The release an image names, or undefined when it is not of the service's image template. */
  private releaseOf(config: KubernetesServiceConfig, image: string): string | undefined {
    const [before = '', after = ''] = config.image.split('{release}');
    if (!image.startsWith(before) || !image.endsWith(after) || image.length <= before.length + after.length)
      return undefined;
    return image.slice(before.length, image.length - after.length);
  }

  private changeCause(what: string, action?: ActionContext): string {
    return `failsafe: ${what}${action ? ` (action ${action.idempotencyKey})` : ''}`;
  }

  /** Turns the API's refusals into typed errors saying what to do. */
  private async request<T>(service: string, what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      const { namespace } = this.config(service);
      if (error instanceof ApiException) {
        const body = typeof error.body === 'string' ? error.body : JSON.stringify(error.body);
        let message = body;
        try {
          message = (JSON.parse(body) as { message?: string }).message ?? body;
        } catch {}
        throw new KubernetesRequestFailed(service, error.code, what, namespace, message);
      }
      throw new KubernetesRequestFailed(service, undefined, what, namespace, (error as Error).message);
    }
  }

  private read(service: string): Promise<V1Deployment> {
    const { namespace, deployment: name } = this.config(service);
    return this.request(service, 'get deployments', () =>
      this.client(this.config(service)).apps.readNamespacedDeployment({ name, namespace }),
    );
  }

  private patch(service: string, deployment: V1Deployment, strategy: PatchStrategy, body: object) {
    const config = this.config(service);
    if (deployment.spec?.paused)
      throw new RolloutFailed(service, config, 'is paused: nothing would roll out (kubectl rollout resume first)');
    return this.request(service, 'patch deployments', () =>
      this.client(config).apps.patchNamespacedDeployment(
        { name: config.deployment, namespace: config.namespace, body },
        setHeaderOptions('Content-Type', strategy),
      ),
    );
  }

  /** `kubectl set image`: one container's image, the cause recorded on the Deployment. */
  private async setImage(
    service: string,
    deployment: V1Deployment,
    container: string,
    image: string,
    what: string,
    action?: ActionContext,
  ) {
    await this.patch(service, deployment, PatchStrategy.StrategicMergePatch, {
      metadata: { annotations: { [CHANGE_CAUSE]: this.changeCause(what, action) } },
      spec: { template: { spec: { containers: [{ name: container, image }] } } },
    });
    this.log(service, `${what}: image ${image} set`);
  }

  /** The newest of the Deployment's ReplicaSets whose template runs this image. */
  private async replicaSetOf(service: string, deployment: V1Deployment, image: string) {
    const config = this.config(service);
    const labelSelector = selectorOf(deployment);
    const list = await this.request(service, 'list replicasets', () =>
      this.client(config).apps.listNamespacedReplicaSet({ namespace: config.namespace, labelSelector }),
    );
    const revision = (rs: V1ReplicaSet) => Number(rs.metadata?.annotations?.[REVISION] ?? 0);
    return list.items
      .filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.uid === deployment.metadata?.uid))
      .filter((rs) => containerOf(service, config, rs.spec?.template).image === image)
      .sort((a, b) => revision(b) - revision(a))[0];
  }

  /**
   * `kubectl rollout undo --to-revision`: the Deployment's template becomes the ReplicaSet's (without
   * its pod-template-hash label, with today's flags), so the controller scales that ReplicaSet back up
   * as the newest revision.
   */
  private async restore(
    service: string,
    deployment: V1Deployment,
    replicaSet: V1ReplicaSet,
    what: string,
    action?: ActionContext,
  ) {
    const template = structuredClone(replicaSet.spec?.template ?? {});
    delete template.metadata?.labels?.['pod-template-hash'];
    // The flags in force now stay in force, as the process driver keeps them across a rollback: a tool
    // disabled during the incident must not come back with the old release (equal flags: the RS is reused).
    const config = this.config(service);
    const isFlag = (v: V1EnvVar) => FLAG_NAMES.has(v.name);
    const kept = (containerOf(service, config, deployment.spec?.template).env ?? []).filter(isFlag);
    const restored = containerOf(service, config, template);
    const env = [...(restored.env ?? []).filter((v) => !isFlag(v)), ...kept];
    if (env.length > 0) restored.env = env;
    else delete restored.env;
    const annotations: Record<string, string> = {};
    for (const [key, value] of Object.entries(deployment.metadata?.annotations ?? {}))
      if (NOT_RESTORED.has(key)) annotations[key] = value;
    for (const [key, value] of Object.entries(replicaSet.metadata?.annotations ?? {}))
      if (!NOT_RESTORED.has(key)) annotations[key] = value;
    annotations[CHANGE_CAUSE] = this.changeCause(what, action);
    await this.patch(service, deployment, PatchStrategy.JsonPatch, [
      { op: 'replace', path: '/spec/template', value: template },
      { op: 'replace', path: '/metadata/annotations', value: annotations },
    ]);
    const revision = replicaSet.metadata?.annotations?.[REVISION];
    this.log(service, `${what}: template of ReplicaSet ${replicaSet.metadata?.name} (revision ${revision}) restored`);
  }

  /** Reads the Deployment until its rollout completes, fails, outlasts rolloutTimeoutSeconds or the action stops. */
  private async followRollout(service: string, what: string, action?: ActionContext): Promise<Instance[]> {
    const config = this.config(service);
    const timeoutMs = (config.rolloutTimeoutSeconds ?? 600) * 1000;
    const deadline = AbortSignal.timeout(timeoutMs);
    for (;;) {
      const progress = rolloutProgress(await this.read(service));
      if (progress.done) {
        this.log(service, `${what}: rollout complete`);
        return this.instances(service);
      }
      if (progress.failed) throw new RolloutFailed(service, config, `${what}: ${progress.failed}`);
      if (action?.signal?.aborted)
        throw new RolloutFailed(service, config, `${what}: stopped following (${String(action.signal.reason)})`);
      if (deadline.aborted)
        throw new RolloutFailed(
          service,
          config,
          `${what}: not complete after rolloutTimeoutSeconds (${timeoutMs / 1000} s): ${progress.waiting}`,
        );
      await sleep(this.options.pollMs ?? 250);
    }
  }
}
