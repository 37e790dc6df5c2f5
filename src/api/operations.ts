import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { latenciesOf, toPoint, type SamplePoint } from '../../projections/health-windows.js';
import { serviceStatus, type ServiceView } from '../../projections/service-state.js';
import { stalledForSeconds } from '../../projections/migration-progress.js';
import { handleCommand } from '../application/command-handler.js';
import { explainDecision } from '../audit/explain-decision.js';
import { replayAt } from '../audit/replay-at.js';
import type { Principal } from '../auth/roles.js';
import { migrationDecider } from '../domain/migration.js';
import { serviceDecider, type ServiceCommand } from '../domain/service-decider.js';
import type { RecordedEvent } from '../event-store/event-store.js';
import { recordedEventToJson } from '../event-store/recorded-event-json.js';
import { decodeStored, encodeEvent } from '../events/catalogue.js';
import {
  identifier,
  releaseName,
  serviceName,
  stageName,
  statedReason,
  streamName,
  timestamp,
} from '../events/common-schemas.js';
import { PROBER_AGENT } from '../probing/instance-probe.js';
import { InvalidRequest, NotFound } from './api-errors.js';
import { defineOperation, type ApiDependencies } from './operation.js';
import { drillStream, healthStream, migrationStream, serviceStream } from '../domain/streams.js';

/** bigint positions become strings and Dates ISO strings: what JSON (REST and MCP alike) can carry. */
export const toJson = <T>(value: T): JsonOf<T> =>
  JSON.parse(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) as JsonOf<T>;

/** The type of a value after a JSON round trip (readonly dropped: mapped types fit the loose output schemas). */
export type JsonOf<T> = T extends bigint | Date
  ? string
  : T extends readonly (infer U)[]
    ? JsonOf<U>[]
    : T extends object
      ? { -readonly [K in keyof T]: JsonOf<T[K]> }
      : T;

const eventJson = z.looseObject({
  id: z.string(),
  stream: z.string(),
  revision: z.string(),
  position: z.string(),
  type: z.string(),
  recordedAt: z.string(),
});
const looseState = z.looseObject({});
const serviceInput = { service: serviceName.describe('the service, as named in the fleet file') };
const limit = (max: number, fallback: number) =>
  z.coerce.number().int().min(1).max(max).default(fallback).describe(`how many to return (1 to ${max})`);

const disabledFeature = z.object({
  scope: z.enum(['tool', 'agent', 'system']).describe('system: the service is in legacy mode'),
  target: z.string().optional().describe('the tool or agent'),
  by: z.string().describe("who: a token's name, or failsafe:executor carrying out a policy decision"),
  at: z.string(),
  reason: z.string().optional(),
});

const waitingJson = z.object({
  kind: z.enum(['deployment', 'rollback']),
  id: z.string(),
  release: z.string().optional().describe('the release it goes to (absent: a rollback to the last known good)'),
  since: z.string().optional().describe('when it was requested (absent for requests recorded before times were)'),
  waitingFor: z.string(),
});

const serviceSummary = z.looseObject({
  service: z.string(),
  status: z.string(),
  currentRelease: z.string().optional(),
  lastKnownGood: z.string().optional(),
  disabledTools: z.array(z.string()),
  disabledAgents: z.array(z.string()),
  legacyMode: z.boolean(),
  disabledFeatures: z.array(disabledFeature).describe('what is disabled now, with who did it and when'),
  waiting: waitingJson
    .optional()
    .describe('what waits for a person or an executor: cancel_deployment or reject_rollback ends it'),
});

/** How far back service_status looks for the latency percentiles. */
const STATUS_WINDOW_SECONDS = 60;

const latencyWindow = z.object({
  windowSeconds: z.number(),
  sampleCount: z.number(),
  p50: z.number().optional(),
  p95: z.number().optional(),
  p99: z.number().optional(),
});

/** The request-weighted P50, P95 and P99 of the release's samples over the last minute of its health stream. */
async function recentLatency(deps: Pick<ApiDependencies, 'store'>, service: string, release: string | undefined) {
  const samples: SamplePoint[] = [];
  let newest: number | undefined;
  const recent = deps.store.readStream(healthStream(service), { direction: 'backwards', maxCount: 10_000 });
  for await (const recorded of recent) {
    const event = decodeStored(recorded);
    if (event.type !== 'HealthSampleRecorded') continue;
    const point = toPoint(event);
    newest ??= point.at;
    if (point.at < newest - STATUS_WINDOW_SECONDS * 1000) break;
    // Samples of another release (one rolled back from) say nothing about the current one.
    if (!release || !point.release || point.release === release) samples.unshift(point);
  }
  return { windowSeconds: STATUS_WINDOW_SECONDS, sampleCount: samples.length, ...latenciesOf(samples) };
}

const EXECUTOR = 'an executor (`failsafe serve --fleet` with this service in its fleet file)';

/** What waits: a deployment request not yet started, or a rollback not yet approved or carried out. */
function waitingOf(view: ServiceView): z.infer<typeof waitingJson> | undefined {
  const pending = view.deployment;
  if (pending?.status === 'requested') {
    const since = pending.requestedAt && { since: pending.requestedAt };
    return {
      kind: 'deployment',
      id: pending.id,
      release: pending.release,
      ...since,
      waitingFor: `${EXECUTOR} to start it`,
    };
  }
  const rollback = view.rollback;
  if (!rollback || !['awaiting_approval', 'decided', 'approved'].includes(rollback.status)) return undefined;
  const waitingFor =
    rollback.status === 'awaiting_approval'
      ? 'an approval (approve_rollback, by another identity with the approver role), or reject_rollback'
      : `${EXECUTOR} to carry it out`;
  return {
    kind: 'rollback',
    id: rollback.id,
    ...(rollback.targetRelease && { release: rollback.targetRelease }),
    waitingFor,
  };
}

const summary = (view: ServiceView) => {
  const waiting = waitingOf(view);
  return toJson({ ...view, status: serviceStatus(view), ...(waiting && { waiting }) });
};

/** One service from the read model, caught up with the store; NotFound when it has no event. */
export async function serviceView({ readModels }: ApiDependencies, service: string): Promise<ServiceView> {
  await readModels.catchUp();
  const view = readModels.services.current().state.services[service];
  if (!view) {
    throw new NotFound(
      `no service "${service}" is registered; list them with list_services (GET /api/v1/services), ` +
        'add it to the fleet file of `failsafe serve --fleet` ' +
        'or register it with register_service (POST /api/v1/services)',
    );
  }
  return view;
}

/** The newest `count` events of a stream, oldest first. */
export async function lastEvents(
  deps: Pick<ApiDependencies, 'store'>,
  stream: string,
  count: number,
): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for await (const event of deps.store.readStream(stream, { direction: 'backwards', maxCount: count }))
    events.unshift(event);
  return events;
}

/** Refused before anything is written when the service's driver can tell the release does not exist. */
async function assertReleaseExists(deps: ApiDependencies, service: string, release: string): Promise<void> {
  if ((await deps.releases?.hasRelease(service, release)) !== false) return;
  throw new NotFound(`${service} has no release "${release}"; check its releases folder`);
}

/** A rollback never recorded for the service is not found; one in any other state goes on to the decider. */
async function assertRollbackExists(deps: ApiDependencies, service: string, rollbackId: string): Promise<void> {
  for await (const event of deps.store.readStream(serviceStream(service))) {
    if ((event.data as { rollbackId?: unknown }).rollbackId === rollbackId) return;
  }
  throw new NotFound(`${service} has no rollback "${rollbackId}"; service_status shows the service's rollback`);
}

const issue = (deps: ApiDependencies, service: string, command: ServiceCommand, principal: Principal) =>
  handleCommand(deps.store, serviceStream(service), serviceDecider, command, {
    actor: principal.name,
    now: deps.now(),
  });

const listServices = defineOperation({
  name: 'list_services',
  title: 'List services',
  description:
    'Every service Failsafe knows: its status, current release, last known good release, ' +
    'rollback in progress and disabled tools.',
  permission: 'read',
  input: z.strictObject({}),
  output: z.object({ services: z.array(serviceSummary) }),
  http: { method: 'GET', path: '/services' },
  async run({ readModels }) {
    await readModels.catchUp();
    return { services: Object.values(readModels.services.current().state.services).map(summary) };
  },
});

const serviceStatusOperation = defineOperation({
  name: 'service_status',
  title: 'Service status',
  description:
    'One service in detail: its state (with what is disabled, by whom and when), its latest health sample, ' +
    'the latency percentiles of the last minute and its most recent events.',
  permission: 'read',
  input: z.strictObject({ ...serviceInput, events: limit(100, 10) }),
  output: z.object({
    service: serviceSummary,
    health: looseState.optional(),
    latencyMs: latencyWindow.describe("the current release's request-weighted P50, P95 and P99 over the last minute"),
    recentEvents: z.array(eventJson),
  }),
  http: { method: 'GET', path: '/services/{service}' },
  async run(deps, { service, events }) {
    const view = await serviceView(deps, service);
    const [health] = await lastEvents(deps, healthStream(service), 1);
    const recent = await lastEvents(deps, serviceStream(service), events);
    const latencyMs = await recentLatency(deps, service, view.currentRelease);
    return {
      service: summary(view),
      ...(health && { health: toJson(health.data) }),
      latencyMs,
      recentEvents: toJson(recent.map(recordedEventToJson)),
    };
  },
});

const deploymentHistory = defineOperation({
  name: 'deployment_history',
  title: 'Deployment history',
  description: 'Deployments of a service, newest first: release, outcome, who asked and when.',
  permission: 'read',
  input: z.strictObject({ ...serviceInput, limit: limit(500, 20) }),
  output: z.object({
    deployments: z.array(
      z.object({
        deploymentId: z.string(),
        release: z.string(),
        status: z.string(),
        requestedBy: z.string(),
        requestedAt: z.string(),
        updatedAt: z.string(),
      }),
    ),
  }),
  http: { method: 'GET', path: '/services/{service}/deployments' },
  async run(deps, { service, limit: count }) {
    await serviceView(deps, service);
    const byId = new Map<
      string,
      {
        deploymentId: string;
        release: string;
        status: string;
        requestedBy: string;
        requestedAt: string;
        updatedAt: string;
      }
    >();
    const statusOf: Record<string, string> = {
      DeploymentRequested: 'requested',
      DeploymentStarted: 'started',
      DeploymentHealthy: 'healthy',
      DeploymentFailed: 'failed',
      DeploymentCancelled: 'cancelled',
      DeploymentExpired: 'expired',
      DeploymentRolledBack: 'rolled_back',
    };
    for await (const event of deps.store.readStream(serviceStream(service))) {
      const status = statusOf[event.type];
      if (!status) continue;
      const data = event.data as { deploymentId: string; release: string };
      const at = event.recordedAt.toISOString();
      const known = byId.get(data.deploymentId);
      if (known) Object.assign(known, { status, updatedAt: at });
      else
        byId.set(data.deploymentId, {
          deploymentId: data.deploymentId,
          release: data.release,
          status,
          requestedBy: String(event.metadata.actor ?? 'unknown'),
          requestedAt: at,
          updatedAt: at,
        });
    }
    return { deployments: [...byId.values()].reverse().slice(0, count) };
  },
});

const registerService = defineOperation({
  name: 'register_service',
  title: 'Register a service',
  description:
    'Make a service known to Failsafe so that it can be deployed and rolled back (services of the fleet file are ' +
    'registered by `failsafe serve --fleet`). Registering it again changes nothing.',
  permission: 'operate',
  input: z.strictObject({ ...serviceInput, reason: statedReason.optional() }),
  output: z.object({
    service: z.string(),
    registered: z.literal(true),
    changed: z.boolean().describe('false when it already was'),
  }),
  http: { method: 'POST', path: '/services' },
  async run(deps, { service, reason: why }, { principal }) {
    const command = { type: 'RegisterService', service, source: 'api', ...(why && { reason: why }) } as const;
    const { events } = await issue(deps, service, command, principal);
    return { service, registered: true as const, changed: events.length > 0 };
  },
});

const deploy = defineOperation({
  name: 'deploy_release',
  title: 'Deploy a release',
  description:
    'Ask for a release of a service to be deployed (blue-green, carried out by `failsafe serve --fleet`). ' +
    'Refused while a rollback is active.',
  permission: 'operate',
  input: z.strictObject({
    ...serviceInput,
    release: releaseName.describe('the release to deploy, e.g. v1.1.0'),
    reason: statedReason.optional(),
  }),
  output: z.object({
    deploymentId: z.string(),
    service: z.string(),
    release: z.string(),
    status: z.literal('requested'),
  }),
  http: { method: 'POST', path: '/services/{service}/deployments' },
  async run(deps, { service, release, reason: why }, { principal }) {
    await serviceView(deps, service);
    await assertReleaseExists(deps, service, release);
    const deploymentId = `d-${randomUUID().slice(0, 8)}`;
    await issue(
      deps,
      service,
      { type: 'RequestDeployment', service, deploymentId, release, now: deps.now(), ...(why && { reason: why }) },
      principal,
    );
    return { deploymentId, service, release, status: 'requested' as const };
  },
});

const scaleService = defineOperation({
  name: 'scale_service',
  title: 'Scale a service',
  description:
    "Ask for a service to run this many instances (the seeds' scaling procedure; the kubernetes driver scales its " +
    'Deployment and waits until every replica is available). Recorded as ScaleRequested with who asked, then ' +
    'ScaleCompleted or ScaleFailed. A service whose driver cannot scale records ScaleFailed saying so.',
  permission: 'operate',
  input: z.strictObject({
    ...serviceInput,
    replicas: z.coerce.number().int().min(0).max(1000).describe('how many instances (0 to 1000)'),
    reason: statedReason.optional(),
  }),
  output: z.object({ scaleId: z.string(), service: z.string(), replicas: z.number(), status: z.literal('requested') }),
  http: { method: 'POST', path: '/services/{service}/scale' },
  async run(deps, { service, replicas, reason: why }, { principal }) {
    await serviceView(deps, service);
    const scaleId = `s-${randomUUID().slice(0, 8)}`;
    await issue(
      deps,
      service,
      { type: 'RequestScale', service, scaleId, replicas, ...(why && { reason: why }) },
      principal,
    );
    return { scaleId, service, replicas, status: 'requested' as const };
  },
});

const cancelDeployment = defineOperation({
  name: 'cancel_deployment',
  title: 'Cancel a deployment request',
  description:
    'Cancel a deployment that was requested but that no executor has started yet (service_status shows what waits). ' +
    'It will never run.',
  permission: 'operate',
  input: z.strictObject({
    ...serviceInput,
    deploymentId: identifier.describe('the waiting deployment (service_status shows it)'),
    reason: statedReason.optional(),
  }),
  output: z.object({
    deploymentId: z.string(),
    service: z.string(),
    release: z.string(),
    status: z.literal('cancelled'),
    cancelledBy: z.string(),
  }),
  http: { method: 'POST', path: '/services/{service}/deployments/{deploymentId}/cancel' },
  async run(deps, { service, deploymentId, reason: why }, { principal }) {
    await serviceView(deps, service);
    const cancelledBy = principal.name;
    const because = why && { reason: why };
    const command = { type: 'CancelDeployment', service, deploymentId, cancelledBy, ...because } as const;
    const { events } = await issue(deps, service, command, principal);
    const { release } = events[0]!.data as { release: string };
    return { deploymentId, service, release, status: 'cancelled' as const, cancelledBy: principal.name };
  },
});

const requestRollback = defineOperation({
  name: 'request_rollback',
  title: 'Request a rollback',
  description:
    'Ask for a manual rollback of a service to its last known good release (or targetRelease). ' +
    'A second identity with the approver role must approve it (approve_rollback).',
  permission: 'operate',
  input: z.strictObject({
    ...serviceInput,
    reason: statedReason.describe('why; recorded with the request'),
    targetRelease: releaseName.optional(),
  }),
  output: z.object({
    rollbackId: z.string(),
    service: z.string(),
    status: z.literal('awaiting_approval'),
    requestedBy: z.string(),
    next: z.string(),
  }),
  http: { method: 'POST', path: '/services/{service}/rollbacks' },
  async run(deps, { service, reason: why, targetRelease }, { principal }) {
    await serviceView(deps, service);
    if (targetRelease) await assertReleaseExists(deps, service, targetRelease);
    const rollbackId = `rb-${randomUUID().slice(0, 8)}`;
    await issue(
      deps,
      service,
      {
        type: 'RequestRollback',
        service,
        rollbackId,
        requestedBy: principal.name,
        reason: why,
        ...(targetRelease && { targetRelease }),
      },
      principal,
    );
    return {
      rollbackId,
      service,
      status: 'awaiting_approval' as const,
      requestedBy: principal.name,
      next:
        'another identity with the approver role approves it: ' +
        `approve_rollback { service: "${service}", rollbackId: "${rollbackId}" }`,
    };
  },
});

const approveRollback = defineOperation({
  name: 'approve_rollback',
  title: 'Approve a rollback',
  description:
    'Approve a manual rollback awaiting approval. The approver must not be who requested it; ' +
    'an approval expires if not carried out in time.',
  permission: 'approve',
  input: z.strictObject({
    ...serviceInput,
    rollbackId: identifier.describe('the rollback awaiting approval (service_status shows it)'),
  }),
  output: z.object({ rollbackId: z.string(), service: z.string(), approvedBy: z.string(), expiresAt: timestamp }),
  http: { method: 'POST', path: '/services/{service}/rollbacks/{rollbackId}/approval' },
  async run(deps, { service, rollbackId }, { principal }) {
    await assertRollbackExists(deps, service, rollbackId);
    const now = deps.now();
    const validForMs = deps.policy.approval.validForSeconds * 1000;
    const { events } = await issue(
      deps,
      service,
      {
        type: 'ApproveRollback',
        service,
        rollbackId,
        approver: { id: principal.name, roles: [principal.role] },
        now,
        validForMs,
      },
      principal,
    );
    const approved = events.find((e) => e.type === 'RollbackApproved');
    return {
      rollbackId,
      service,
      approvedBy: principal.name,
      expiresAt:
        approved?.type === 'RollbackApproved'
          ? approved.data.expiresAt
          : new Date(now.getTime() + validForMs).toISOString(),
    };
  },
});

const rejectRollback = defineOperation({
  name: 'reject_rollback',
  title: 'Reject a rollback',
  description:
    'Reject a rollback that waits: a manual one awaiting approval, or a decided or approved one no executor has ' +
    'started. Recorded with who rejected it and why; nothing is rolled back.',
  permission: 'approve',
  input: z.strictObject({
    ...serviceInput,
    rollbackId: identifier.describe('the waiting rollback (service_status shows it)'),
    reason: statedReason.describe('why, recorded with the rejection'),
  }),
  output: z.object({ rollbackId: z.string(), service: z.string(), rejectedBy: z.string() }),
  http: { method: 'POST', path: '/services/{service}/rollbacks/{rollbackId}/rejection' },
  async run(deps, { service, rollbackId, reason: why }, { principal }) {
    await assertRollbackExists(deps, service, rollbackId);
    await issue(
      deps,
      service,
      { type: 'RejectRollback', service, rollbackId, rejectedBy: principal.name, reason: why },
      principal,
    );
    return { rollbackId, service, rejectedBy: principal.name };
  },
});

type Scope = 'tool' | 'agent' | 'system';

/** Records one level of the seeds' gradual rollback, the token's name as its actor; false when it already was so. */
async function switchFeature(
  deps: ApiDependencies,
  principal: Principal,
  change: { service: string; scope: Scope; target?: string | undefined; enable: boolean; reason?: string | undefined },
): Promise<boolean> {
  const { service, scope, target, enable, reason: why } = change;
  const type = enable ? 'EnableFeature' : 'DisableFeature';
  const command = { type, service, scope, ...(target && { target }), ...(why && { reason: why }) } as const;
  const { events } = await issue(deps, service, command, principal);
  return events.length > 0;
}

const changed = z.boolean().describe('false when it already was');

/** Tools and agents: one of them disabled for one service, or enabled again. */
const TARGETS = {
  tool: {
    plural: 'tools',
    target: 'the tool name as the service lists it',
    disable:
      "Disable one tool of a service (the seeds' tool-level rollback, MCP_DISABLE_TOOLS) " +
      'without rolling the release back.',
  },
  agent: {
    plural: 'agents',
    target: 'the agent (an MCP client) as it names itself: its x-mcp-agent header or its initialize client name',
    disable:
      "Roll one agent back to its non-MCP implementation (the seeds' agent-level rollback, MCP_DISABLE_AGENTS): " +
      'the service refuses its MCP requests so that its own fallback takes over; other agents are not affected.',
  },
} as const;

const featureSwitch = (scope: 'tool' | 'agent', enable: boolean) => {
  const { plural, target: describeTarget, disable } = TARGETS[scope];
  return defineOperation({
    name: `${enable ? 'enable' : 'disable'}_${scope}`,
    title: `${enable ? 'Re-enable' : 'Disable'} ${scope === 'tool' ? 'a tool' : 'an agent'}`,
    description: enable ? `Re-enable a ${scope} of a service that was disabled (by a person or the policy).` : disable,
    permission: 'operate',
    input: z.strictObject({
      ...serviceInput,
      [scope]: identifier.describe(describeTarget),
      reason: statedReason.optional(),
    }),
    output: z.object({ service: z.string(), [scope]: z.string(), disabled: z.boolean(), changed }),
    http: { method: 'POST', path: `/services/{service}/${plural}/{${scope}}/${enable ? 'enable' : 'disable'}` },
    async run(deps, input, { principal }) {
      const { service, reason: why } = input;
      // The target's key is the scope's name (tool or agent), which the schema's type cannot follow.
      const target = (input as Record<string, unknown>)[scope] as string;
      if (scope === 'agent' && !enable && target === PROBER_AGENT) {
        const why = 'without it no rule could judge the service';
        const problem = `agent: ${PROBER_AGENT} is Failsafe's own health probe; ${why}`;
        throw new InvalidRequest([problem]);
      }
      await serviceView(deps, service);
      const done = await switchFeature(deps, principal, { service, scope, target, enable, reason: why });
      return { service, [scope]: target, disabled: !enable, changed: done };
    },
  });
};

const LEGACY_MODE =
  "the seeds' system-level rollback: the service runs in legacy mode (MCP_LEGACY_MODE: only the tools served before " +
  'the MCP migration), without rolling the release back';

const legacySwitch = (enter: boolean) =>
  defineOperation({
    name: enter ? 'enter_legacy_mode' : 'leave_legacy_mode',
    title: enter ? 'Enter legacy mode' : 'Leave legacy mode',
    description: enter ? `Switch one service to legacy mode: ${LEGACY_MODE}.` : 'Take one service out of legacy mode.',
    permission: 'operate',
    input: z.strictObject({ ...serviceInput, reason: statedReason.optional() }),
    output: z.object({ service: z.string(), legacyMode: z.boolean(), changed }),
    http: { method: 'POST', path: `/services/{service}/legacy-mode/${enter ? 'enter' : 'leave'}` },
    async run(deps, { service, reason: why }, { principal }) {
      await serviceView(deps, service);
      const done = await switchFeature(deps, principal, { service, scope: 'system', enable: !enter, reason: why });
      return { service, legacyMode: enter, changed: done };
    },
  });

const fleetLegacySwitch = (enter: boolean) =>
  defineOperation({
    name: enter ? 'enter_fleet_legacy_mode' : 'leave_fleet_legacy_mode',
    title: enter ? 'Enter legacy mode, fleet-wide' : 'Leave legacy mode, fleet-wide',
    description: enter
      ? `Switch every service Failsafe knows to legacy mode, each recorded on its own stream: ${LEGACY_MODE}. ` +
        'Safe to repeat: services already in legacy mode are left as they are.'
      : 'Take every service out of legacy mode. Safe to repeat.',
    permission: 'operate',
    input: z.strictObject({ reason: statedReason.optional() }),
    output: z.object({ legacyMode: z.boolean(), services: z.array(z.object({ service: z.string(), changed })) }),
    http: { method: 'POST', path: `/legacy-mode/${enter ? 'enter' : 'leave'}` },
    async run(deps, { reason: why }, { principal }) {
      await deps.readModels.catchUp();
      const services = [];
      for (const service of Object.keys(deps.readModels.services.current().state.services).sort()) {
        const done = await switchFeature(deps, principal, { service, scope: 'system', enable: !enter, reason: why });
        services.push({ service, changed: done });
      }
      return { legacyMode: enter, services };
    },
  });

const migrationJson = z.looseObject({
  migrationId: z.string(),
  service: z.string(),
  stage: z.string(),
  status: z.string(),
  stalledForSeconds: z.number(),
});

const migrationStatus = defineOperation({
  name: 'migration_status',
  title: 'Migration status',
  description: 'Staged migrations: stage, progress, error rate, and how long since each last moved (a stall).',
  permission: 'read',
  input: z.strictObject({ service: serviceName.optional().describe('only this service') }),
  output: z.object({ migrations: z.array(migrationJson) }),
  http: { method: 'GET', path: '/migrations' },
  async run({ readModels, now }, { service }) {
    await readModels.catchUp();
    const at = now().getTime();
    const all = Object.values(readModels.migrations.current().state.migrations).filter(
      (m) => !service || m.service === service,
    );
    return { migrations: all.map((m) => toJson({ ...m, stalledForSeconds: stalledForSeconds(m, at) })) };
  },
});

const revertMigration = defineOperation({
  name: 'revert_migration',
  title: 'Revert a migration',
  description: 'Take a running staged migration back to an earlier stage.',
  permission: 'operate',
  input: z.strictObject({
    migrationId: identifier,
    toStage: stageName.describe('an earlier stage of the migration'),
    reason: statedReason,
  }),
  output: z.object({ migrationId: z.string(), fromStage: z.string(), toStage: z.string() }),
  http: { method: 'POST', path: '/migrations/{migrationId}/revert' },
  async run(deps, { migrationId, toStage, reason: why }, { principal }) {
    await deps.readModels.catchUp();
    const view = deps.readModels.migrations.current().state.migrations[migrationId];
    if (!view)
      throw new NotFound(`no migration "${migrationId}"; list them with migration_status (GET /api/v1/migrations)`);
    const { events } = await handleCommand(
      deps.store,
      migrationStream(migrationId),
      migrationDecider,
      { type: 'RevertMigration', migrationId, toStage, reason: why },
      { actor: principal.name, now: deps.now() },
    );
    // The stage it left, as recorded: the read model's view is live and may have moved on already.
    const reverted = events.find((event) => event.type === 'MigrationReverted');
    return { migrationId, fromStage: reverted?.data.fromStage ?? view.stage, toStage };
  },
});

const drillRunJson = z.looseObject({ runId: z.string(), drill: z.string(), outcome: z.string() });

const startDrill = defineOperation({
  name: 'start_drill',
  title: 'Start a drill',
  description:
    'Ask for a chaos drill to run now (a drill file in drills/). ' +
    'The drill runner records every step in the run; drill_report shows it.',
  permission: 'operate',
  input: z.strictObject({
    drill: identifier
      .regex(/^[\w-]+$/, 'a drill name: letters, digits, "_" and "-"')
      .describe('the drill, e.g. high-error-rate'),
  }),
  output: z.object({ runId: z.string(), drill: z.string(), status: z.literal('requested') }),
  http: { method: 'POST', path: '/drills/{drill}/runs' },
  async run(deps, { drill }, { principal }) {
    if (!deps.drills) throw new NotFound('no drills folder is configured: start `failsafe serve` with --drills <dir>');
    if (!deps.drills.has(drill)) throw new NotFound(`no drill "${drill}"; \`failsafe drill list\` shows the drills`);
    const runId = `run-${randomUUID().slice(0, 8)}`;
    const event = encodeEvent(
      { type: 'DrillRequested', data: { runId, drill, requestedBy: principal.name } },
      { actor: principal.name, occurredAt: deps.now() },
    );
    await deps.store.append(drillStream(runId), [event], 'no_stream');
    return { runId, drill, status: 'requested' as const };
  },
});

const drillReport = defineOperation({
  name: 'drill_report',
  title: "A drill's report",
  description:
    'One drill run: steps, faults injected and healed, expectations with their verdicts, ' +
    'outcome, time to detect and to recover.',
  permission: 'read',
  input: z.strictObject({ runId: identifier }),
  output: z.object({ run: drillRunJson }),
  http: { method: 'GET', path: '/drills/runs/{runId}' },
  async run({ readModels }, { runId }) {
    await readModels.catchUp();
    const run = readModels.drills.current().state.runs[runId];
    if (!run) throw new NotFound(`no drill run "${runId}"; list runs with list_drill_runs (GET /api/v1/drills/runs)`);
    return { run: toJson(run) };
  },
});

const listDrillRuns = defineOperation({
  name: 'list_drill_runs',
  title: 'List drill runs',
  description: 'Drill runs, newest first, with their outcome.',
  permission: 'read',
  input: z.strictObject({ limit: limit(500, 50) }),
  output: z.object({ runs: z.array(drillRunJson) }),
  http: { method: 'GET', path: '/drills/runs' },
  async run({ readModels }, { limit: count }) {
    await readModels.catchUp();
    const runs = Object.values(readModels.drills.current().state.runs).sort((a, b) => b.startedAt - a.startedAt);
    return { runs: runs.slice(0, count).map(({ steps: _s, ...run }) => toJson(run)) };
  },
});

/** How many events one page may scan looking for matches, so a rare type cannot make a request read the whole store. */
const SCAN_LIMIT = 10_000;

const queryEvents = defineOperation({
  name: 'query_events',
  title: 'Query events',
  description:
    'Recorded events in order, a page at a time: all of them, or one stream, optionally of some types. ' +
    'Pass nextCursor back as `after` for the next page.',
  permission: 'audit',
  input: z.strictObject({
    stream: streamName.optional().describe('only this stream, e.g. service-orders'),
    types: z
      .union([
        z.array(identifier),
        z
          .string()
          .transform((s) => s.split(',').filter(Boolean))
          .pipe(z.array(identifier)),
      ])
      .optional()
      .describe('only these event types (comma-separated in a query string)'),
    after: z.string().regex(/^\d+$/, 'a cursor: the nextCursor of the previous page').optional(),
    limit: limit(1000, 100),
  }),
  output: z.object({
    events: z.array(eventJson),
    nextCursor: z.string().optional().describe('absent when there is nothing more yet'),
  }),
  http: { method: 'GET', path: '/events' },
  async run({ store }, { stream, types, after, limit: count }) {
    // The cursor is a stream revision when a stream is named, a global position otherwise.
    const from = after === undefined ? 0n : BigInt(after) + 1n;
    const source = stream
      ? store.readStream(stream, { fromRevision: from, maxCount: SCAN_LIMIT })
      : store.readAll({ fromPosition: from, maxCount: SCAN_LIMIT });
    const events: RecordedEvent[] = [];
    let last: bigint | undefined;
    let scanned = 0;
    for await (const event of source) {
      scanned += 1;
      last = stream ? event.revision : event.position;
      if (!types || types.includes(event.type)) events.push(event);
      if (events.length >= count) break;
    }
    const more = events.length >= count || scanned >= SCAN_LIMIT;
    return {
      events: toJson(events.map(recordedEventToJson)),
      ...(more && last !== undefined && { nextCursor: last.toString() }),
    };
  },
});

const stateAt = defineOperation({
  name: 'state_at',
  title: 'State at a past instant',
  description:
    'What Failsafe knew at an instant: services, incidents, migrations and drills ' +
    'as of every event recorded up to then.',
  permission: 'audit',
  input: z.strictObject({
    at: timestamp.describe('an ISO 8601 instant with its offset, e.g. 2026-11-24T10:00:00Z'),
    service: serviceName.optional().describe('only this service'),
  }),
  output: z.object({
    at: z.string(),
    eventsApplied: z.number(),
    services: looseState,
    incidents: looseState,
    migrations: looseState,
    drills: looseState,
  }),
  http: { method: 'GET', path: '/state' },
  async run({ history, snapshots }, { at, service }) {
    const state = toJson(await replayAt(history, new Date(at), snapshots ? { snapshots } : {}));
    if (!service) return state;
    const only = <T extends { service?: string }>(record: Record<string, T>) =>
      Object.fromEntries(Object.entries(record).filter(([, v]) => v.service === service));
    return {
      ...state,
      services: { services: only(state.services.services) },
      incidents: { ...state.incidents, incidents: only(state.incidents.incidents) },
      migrations: { ...state.migrations, migrations: only(state.migrations.migrations) },
    };
  },
});

const explain = defineOperation({
  name: 'explain_decision',
  title: 'Explain a rollback decision',
  description:
    'Why a rollback was decided: the rule, threshold and observed figure, the evidence events, ' +
    'the chain of causes and what happened afterwards.',
  permission: 'audit',
  input: z.strictObject({ decision: identifier.describe('the RollbackDecided event id or the rollback id') }),
  output: z.object({
    decision: eventJson,
    evidence: z.array(eventJson),
    missingEvidence: z.array(z.string()),
    causation: z.array(eventJson),
    lifecycle: z.array(eventJson),
  }),
  http: { method: 'GET', path: '/decisions/{decision}' },
  async run({ history }, { decision }) {
    return toJson(await explainDecision(history, decision));
  },
});

/** Everything the API offers, in the order the OpenAPI document and tools/list show it. */
export const operations = [
  listServices,
  serviceStatusOperation,
  deploymentHistory,
  registerService,
  deploy,
  scaleService,
  cancelDeployment,
  requestRollback,
  approveRollback,
  rejectRollback,
  featureSwitch('tool', false),
  featureSwitch('tool', true),
  featureSwitch('agent', false),
  featureSwitch('agent', true),
  legacySwitch(true),
  legacySwitch(false),
  fleetLegacySwitch(true),
  fleetLegacySwitch(false),
  migrationStatus,
  revertMigration,
  startDrill,
  listDrillRuns,
  drillReport,
  queryEvents,
  stateAt,
  explain,
];
