import { hostname } from 'node:os';
import { v5 as uuidv5 } from 'uuid';
import { handleCommand, loadStream } from '../application/command-handler.js';
import { InvariantViolated } from '../domain/decider.js';
import { DEFAULT_REQUEST_EXPIRY_MS, isExpired } from '../domain/deployment.js';
import { DEFAULT_EXECUTION_LEASE_MS, executionLeaseLapsed } from '../domain/execution-lease.js';
import type { ExecutionLease, Executor, LeasedWork } from '../domain/lease.js';
import { migrationDecider } from '../domain/migration.js';
import { DEFAULT_VERIFICATION_WINDOW_MS } from '../domain/rollback.js';
import { isRollbackActive, type Rollback, type ServiceState } from '../domain/service.js';
import { serviceDecider, type ServiceCommand } from '../domain/service-decider.js';
import { CannotScale, type ActionContext, type FeatureFlags, type TargetDriver } from '../drivers/target-driver.js';
import { WrongExpectedRevision } from '../event-store/errors.js';
import type { EventStore, RecordedEvent, Subscription } from '../event-store/event-store.js';
import { verifyInstances } from './post-rollback-verification.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { keepLease, type KeptLease } from '../runtime/lease-keeper.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { migrationStream, serviceOfStream, serviceStream } from '../domain/streams.js';

export interface ServiceReconcilerOptions {
  /** Attempts at a rollback before it is escalated (default 3). */
  readonly maxAttempts?: number;
  /** Pause before retrying a failed rollback, times the attempt number (default 2 s). */
  readonly retryDelayMs?: number;
  /** How long post-rollback verification watches the service (default `DEFAULT_VERIFICATION_WINDOW_MS`). */
  readonly verificationWindowMs?: number;
  /** Probes over that window; health and the tool list must hold at each (default 3). */
  readonly verificationProbes?: number;
  readonly maxErrorRateAfterRollback?: number;
  /** A deployment request older than this is expired instead of run (default 15 min). */
  readonly requestExpiryMs?: number;
  readonly clock?: Clock;
  /** Fewest tool calls the error rate after a rollback is judged on (default 10). */
  readonly minCallsAfterRollback?: number;
  /** Per service, the read-only tool verification calls when traffic is too thin (the fleet file's `probeTool`). */
  readonly probeTools?: Readonly<Record<string, string>>;
  readonly log?: (line: string) => void;
  /**
   * How long this executor's claim on a rollback or deployment it carries out holds unless renewed
   * (default `DEFAULT_EXECUTION_LEASE_MS`); renewed every third of it unless `renewEveryMs` says otherwise.
   */
  readonly leaseMs?: number;
  readonly renewEveryMs?: number;
  /** Who this executor is in the leases it records (default: this host and process). */
  readonly executor?: Executor;
}

/** This process as an executor: its host and pid name it, so a restarted Failsafe is another executor. */
export const thisExecutor = (): Executor => ({
  replica: `${hostname()}-${process.pid}`,
  host: hostname(),
  pid: process.pid,
});

export const EXECUTOR_ACTOR = 'failsafe:executor';

const flagsOf = (state: ServiceState): FeatureFlags => ({
  tools: state.disabledTools,
  agents: state.disabledAgents,
  legacyMode: state.legacyMode,
});

/** Another executor took the work over: this one stops. */
const isLeaseLost = (error: unknown) => error instanceof InvariantViolated && error.invariant === 'lease-lost';

/** Another Failsafe took the step first, or the step no longer applies: nothing to do here. */
const isLostRace = (error: unknown) => error instanceof InvariantViolated || error instanceof WrongExpectedRevision;

/** Refusals meaning someone else moved the rollback on; any other refusal means it can never be carried out. */
const MOVED_ON = new Set(['unknown-rollback', 'rollback-wrong-status']);

const ACTION_NAMESPACE = '6b0f7c3e-2d4a-5e8b-9c1f-3a7d5e9b2c4f';

/**
 * The idempotency key of one action: derived from the event that asked for it (a deployment's
 * request, a rollback's decision or request, a change of disabled tools), so it is the same at
 * every attempt, after the executor's retries and after a restart, and a receiver can deduplicate.
 */
export const actionKey = (eventId: string, action: string): string => uuidv5(`${eventId}:${action}`, ACTION_NAMESPACE);

/**
 * Brings each service in line with its stream: runs requested deployments and decided or
 * approved rollbacks through the driver, records every step (started, completed, failed,
 * verified, escalated), and resumes a step a previous process left half done. Each step is
 * appended at the revision it read, so only one Failsafe carries out a given step.
 */
export class ServiceReconciler {
  private subscription: Subscription | undefined;
  private loop: Promise<void> | undefined;
  private readonly busy = new Map<string, Promise<void>>();
  private readonly dirty = new Set<string>();
  /**
   * Services whose disabled tools, agents or legacy mode changed (by a person or the policy), to apply:
   * the change's event id.
   */
  private readonly flagsChanged = new Map<string, string>();
  private readonly stopping = new AbortController();
  /** Services whose work another executor holds: looked at again once its lease may have lapsed. */
  private readonly rechecks = new Map<string, NodeJS.Timeout>();
  private readonly executor: Executor;
  /** The work this process is acting on now (`kind:id`): its lease is ours, but it is not to be resumed twice. */
  private readonly acting = new Set<string>();

  constructor(
    private readonly store: EventStore,
    private readonly driver: TargetDriver,
    private readonly options: ServiceReconcilerOptions = {},
  ) {
    this.executor = options.executor ?? thisExecutor();
  }

  /** Reconciles every service with a stream, then follows new events. */
  async start(): Promise<void> {
    this.subscription = this.store.subscribe();
    const subscription = this.subscription;
    this.loop = (async () => {
      for await (const event of subscription) {
        const service = serviceOfStream(event.stream);
        if (service === undefined) continue;
        if (event.type === 'FeatureDisabled' || event.type === 'FeatureEnabled')
          this.flagsChanged.set(service, event.id);
        this.schedule(service);
      }
    })();
  }

  /** Resolves when no service has work in progress. */
  async idle(): Promise<void> {
    while (this.busy.size > 0) await Promise.all([...this.busy.values()]);
  }

  private schedule(service: string): void {
    if (this.busy.has(service)) {
      this.dirty.add(service);
      return;
    }
    const work = (async () => {
      for (;;) {
        this.dirty.delete(service);
        try {
          await this.reconcile(service);
        } catch (error) {
          this.options.log?.(`${service}: ${(error as Error).message}`);
        }
        // Checked and released in one step: an event scheduled in between is never lost.
        if (!this.dirty.has(service)) {
          this.busy.delete(service);
          return;
        }
      }
    })();
    this.busy.set(service, work);
  }

  private now(): Date {
    return (this.options.clock ?? systemClock).now();
  }

  /** Decided again on the new state when another append came first: the deciders refuse what no longer applies. */
  private command(service: string, command: ServiceCommand, attempts = 5) {
    const context = { actor: EXECUTOR_ACTOR, now: this.now() };
    return handleCommand(this.store, serviceStream(service), serviceDecider, command, context, attempts);
  }

  private get leaseMs(): number {
    return this.options.leaseMs ?? DEFAULT_EXECUTION_LEASE_MS;
  }

  private leaseUntil(): string {
    return new Date(this.now().getTime() + this.leaseMs).toISOString();
  }

  /** Reconciles the service again once `until` has passed (another executor's lease may have lapsed by then). */
  private recheckAt(service: string, until: string): void {
    if (this.stopping.signal.aborted) return;
    clearTimeout(this.rechecks.get(service));
    const delayMs = Math.max(0, Date.parse(until) - this.now().getTime()) + 100;
    const timer = setTimeout(() => {
      this.rechecks.delete(service);
      this.schedule(service);
    }, delayMs);
    timer.unref();
    this.rechecks.set(service, timer);
  }

  /**
   * Whether this executor may carry on with work already in progress: it holds its lease, or the lease
   * lapsed and this executor took the work over (appended at the revision read: one taker wins).
   */
  private async claimInProgress(service: string, work: LeasedWork, lease: ExecutionLease | undefined) {
    if (lease?.executor.replica === this.executor.replica) return !this.acting.has(`${work.kind}:${work.id}`);
    if (!executionLeaseLapsed(lease, this.now())) {
      this.recheckAt(service, lease!.until);
      return false;
    }
    const now = this.now().toISOString();
    const takeOver = { type: 'TakeOverExecution', service, work, executor: this.executor, now } as const;
    try {
      await this.command(service, { ...takeOver, leaseUntil: this.leaseUntil() });
    } catch (error) {
      if (isLostRace(error)) return false;
      throw error;
    }
    const from = lease
      ? `${lease.executor.replica}, whose lease ran out at ${lease.until}`
      : 'an executor before leases';
    this.options.log?.(`${service}: ${work.kind} ${work.id} taken over from ${from}`);
    return true;
  }

  /** Renews this executor's lease on the work while it acts on it. */
  private hold(service: string, work: LeasedWork, until: string): KeptLease {
    const acting = `${work.kind}:${work.id}`;
    this.acting.add(acting);
    const lease = keepLease({
      clock: this.options.clock ?? systemClock,
      leaseMs: this.leaseMs,
      renewEveryMs: this.options.renewEveryMs ?? this.leaseMs / 3,
      until: new Date(until),
      renew: async (next) => {
        const renewal = { service, work, executor: this.executor, leaseUntil: next.toISOString() };
        await this.command(service, { type: 'RenewExecutionLease', ...renewal });
      },
      log: (line) => this.options.log?.(`${service}: ${work.kind} ${work.id}: ${line}`),
    });
    return {
      lost: lease.lost,
      release: () => {
        lease.release();
        this.acting.delete(acting);
      },
    };
  }

  /** After the lease was lost: nothing more is recorded or done; another executor finishes the work. */
  private gaveUp(service: string, work: LeasedWork, why: unknown): void {
    this.options.log?.(`${service}: ${work.kind} ${work.id}: lease lost (${String(why)}); stopped`);
    this.recheckAt(service, this.leaseUntil());
  }

  /** The action's key, from the newest event of the service's stream that `asked` recognises. */
  private async keyOf(service: string, action: string, asked: (e: RecordedEvent) => boolean): Promise<ActionContext> {
    for await (const event of this.store.readStream(serviceStream(service), { direction: 'backwards' })) {
      if (asked(event)) return { idempotencyKey: actionKey(event.id, action) };
    }
    throw new Error(`no event of ${service} asked for ${action}`);
  }

  async reconcile(service: string): Promise<void> {
    const { state } = await loadStream(this.store, serviceStream(service), serviceDecider);
    if (state.rollback && (isRollbackActive(state) || state.rollback.status === 'failed'))
      return this.advanceRollback(service, state.rollback);
    // A Failsafe stopped between completing a rollback and verifying it: verified now, unless another release runs.
    const done = state.rollback;
    const unverified = done?.status === 'completed' && done.verified === undefined;
    if (unverified && state.currentRelease === done.toRelease) {
      // The executor that completed it verifies it: the others only if its lease lapsed before it did (it died).
      const { lease } = done;
      const mine = lease === undefined || lease.executor.replica === this.executor.replica;
      if (!mine && !executionLeaseLapsed(lease, this.now())) return this.recheckAt(service, lease.until);
      return this.verify(service, done, state);
    }
    // First, so that a deployment asked for afterwards starts with the flags as they are now.
    const flagsEvent = this.flagsChanged.get(service);
    // Pending only until an outcome is recorded: a restarted Failsafe replaying old flag changes acts on none of them.
    if (flagsEvent && this.flagsChanged.delete(service) && state.currentRelease && state.flagsPending) {
      await this.applyFlags(service, state, actionKey(flagsEvent, 'set-feature-flags'));
    }
    if (state.scale?.status === 'requested') await this.advanceScale(service, state.scale);
    const deployment = state.deployment;
    if (deployment?.status === 'requested' || deployment?.status === 'started')
      await this.advanceDeployment(service, deployment);
  }

  /** Flags changed by hand, put in force by the driver (kubernetes: a rollout of its own), the outcome recorded. */
  private async applyFlags(service: string, state: ServiceState, idempotencyKey: string): Promise<void> {
    const { disabledTools, disabledAgents, legacyMode } = state;
    const inForce = { service, disabledTools: [...disabledTools], disabledAgents: [...disabledAgents], legacyMode };
    try {
      const instances = await this.driver.setFeatureFlags(service, flagsOf(state), { idempotencyKey });
      await this.command(service, { type: 'RecordFlagsApplied', ...inForce, instances: instances.length });
      this.options.log?.(
        `${service}: disabled tools now ${disabledTools.join(', ') || 'none'}, ` +
          `agents ${disabledAgents.join(', ') || 'none'}${legacyMode ? ', in legacy mode' : ''}`,
      );
    } catch (error) {
      if (isLostRace(error)) return;
      const reason = (error as Error).message.slice(0, 2000);
      await this.command(service, { type: 'RecordFlagsFailed', ...inForce, reason });
      this.options.log?.(`${service}: the flags could not be put in force: ${reason}`);
    }
  }

  /**
   * The seeds' scaling procedure through the driver, its outcome recorded. Scaling is idempotent,
   * so it needs no lease: a Failsafe restarted before the outcome scales to the same count again.
   */
  private async advanceScale(service: string, scale: NonNullable<ServiceState['scale']>): Promise<void> {
    const { id: scaleId, replicas } = scale;
    const asked = (e: RecordedEvent) =>
      e.type === 'ScaleRequested' && (e.data as { scaleId?: string }).scaleId === scaleId;
    try {
      if (!this.driver.scale) throw new CannotScale(service);
      const instances = await this.driver.scale(service, replicas, await this.keyOf(service, 'scale', asked));
      const done = { type: 'CompleteScale', service, scaleId, replicas, instances: instances.length } as const;
      await this.command(service, done);
      this.options.log?.(`${service}: scaled to ${replicas} (${instances.length} ready)`);
    } catch (error) {
      if (isLostRace(error)) return;
      const reason = (error as Error).message.slice(0, 2000);
      await this.command(service, { type: 'FailScale', service, scaleId, replicas, reason });
      this.options.log?.(`${service}: scaling to ${replicas} failed: ${reason}`);
    }
  }

  private async advanceDeployment(service: string, deployment: NonNullable<ServiceState['deployment']>): Promise<void> {
    const { id: deploymentId, release } = deployment;
    const work = { kind: 'deployment', id: deploymentId } as const;
    let leaseUntil = deployment.lease?.until;
    if (deployment.status === 'requested') {
      // A request that waited past its time (e.g. while no executor ran) is recorded as expired, never run late.
      const now = this.now();
      const maxAgeMs = this.options.requestExpiryMs ?? DEFAULT_REQUEST_EXPIRY_MS;
      if (isExpired(deployment, now, maxAgeMs)) {
        const expire = { type: 'ExpireDeployment', service, deploymentId, now, maxAgeMs } as const;
        await this.command(service, expire).catch((e: unknown) => {
          if (!isLostRace(e)) throw e;
        });
        const requested = deployment.requestedAt ?? 'at an unknown time';
        this.options.log?.(`${service}: deployment ${deploymentId} of ${release} expired (requested ${requested})`);
        return;
      }
      leaseUntil = this.leaseUntil();
      try {
        const lease = { executor: this.executor, until: leaseUntil };
        await this.command(service, { type: 'StartDeployment', service, deploymentId, lease });
      } catch (error) {
        if (isLostRace(error)) return;
        throw error;
      }
    } else if (!(await this.claimInProgress(service, work, deployment.lease))) return;
    const lease = this.hold(service, work, leaseUntil ?? this.leaseUntil());
    const { executor } = this;
    try {
      const requested = (e: RecordedEvent) =>
        e.type === 'DeploymentRequested' && (e.data as { deploymentId?: string }).deploymentId === deploymentId;
      const key = await this.keyOf(service, 'deploy', requested);
      await this.driver.deploy(service, release, { ...key, signal: lease.lost });
      if (lease.lost.aborted) return this.gaveUp(service, work, lease.lost.reason);
      await this.command(service, { type: 'MarkDeploymentHealthy', service, deploymentId, executor });
      this.options.log?.(`${service}: ${release} deployed`);
    } catch (error) {
      if (lease.lost.aborted || isLeaseLost(error)) return this.gaveUp(service, work, lease.lost.reason ?? error);
      if (isLostRace(error)) return;
      await this.command(service, {
        type: 'MarkDeploymentFailed',
        service,
        deploymentId,
        reason: (error as Error).message.slice(0, 2000),
        executor,
      });
      this.options.log?.(`${service}: deployment of ${release} failed: ${(error as Error).message}`);
    } finally {
      lease.release();
    }
  }

  private async advanceRollback(service: string, rollback: Rollback): Promise<void> {
    const rollbackId = rollback.id;
    const maxAttempts = this.options.maxAttempts ?? 3;
    if (rollback.status === 'failed' && rollback.attempts >= maxAttempts) {
      await this.command(service, {
        type: 'EscalateRollback',
        service,
        rollbackId,
        reason: `${rollback.attempts} attempts failed`,
        severity: 'P1',
      }).catch((e: unknown) => {
        if (!isLostRace(e)) throw e;
      });
      this.options.log?.(`${service}: rollback ${rollbackId} escalated after ${rollback.attempts} failed attempts`);
      return;
    }
    if (rollback.status === 'awaiting_approval') return;
    const stale = rollback.status === 'decided' && (await this.staleDecision(service, rollbackId));
    if (stale) return this.escalate(service, rollbackId, stale);
    let toRelease = rollback.toRelease;
    const work = { kind: 'rollback', id: rollbackId } as const;
    let leaseUntil = rollback.lease?.until;
    if (rollback.status === 'in_progress' && !(await this.claimInProgress(service, work, rollback.lease))) return;
    if (rollback.status !== 'in_progress') {
      if (rollback.status === 'failed') await sleep((this.options.retryDelayMs ?? 2_000) * rollback.attempts);
      try {
        leaseUntil = this.leaseUntil();
        const lease = { executor: this.executor, until: leaseUntil };
        const start = { type: 'StartRollback', service, rollbackId, now: this.now(), lease } as const;
        const started = await this.command(service, start);
        toRelease = (started.events[0]!.data as { toRelease: string }).toRelease;
      } catch (error) {
        const never = error instanceof InvariantViolated && !MOVED_ON.has(error.invariant);
        if (never) return this.escalate(service, rollbackId, error.message);
        if (isLostRace(error))
          return this.options.log?.(`${service}: rollback ${rollbackId} not started: ${(error as Error).message}`);
        throw error;
      }
    }
    const lease = this.hold(service, work, leaseUntil ?? this.leaseUntil());
    const { executor } = this;
    try {
      await this.act(service, rollback, toRelease!, lease.lost);
      if (lease.lost.aborted) return this.gaveUp(service, work, lease.lost.reason);
      await this.command(service, { type: 'CompleteRollback', service, rollbackId, executor });
    } catch (error) {
      if (lease.lost.aborted || isLeaseLost(error)) return this.gaveUp(service, work, lease.lost.reason ?? error);
      if (isLostRace(error))
        return this.options.log?.(`${service}: rollback ${rollbackId} moved on meanwhile: ${(error as Error).message}`);
      await this.command(service, {
        type: 'FailRollback',
        service,
        rollbackId,
        reason: (error as Error).message.slice(0, 2000),
        executor,
      });
      this.options.log?.(`${service}: rollback ${rollbackId} failed: ${(error as Error).message}`);
      return;
    } finally {
      lease.release();
    }
    this.options.log?.(
      `${service}: rollback ${rollbackId} completed ` +
        `(${rollback.mode}${rollback.mode === 'disable_feature' ? '' : ` to ${toRelease}`})`,
    );
    const { state } = await loadStream(this.store, serviceStream(service), serviceDecider);
    if (state.rollback?.id === rollbackId) await this.verify(service, state.rollback, state);
  }

  /** A rollback that can never be carried out goes to a person: it never stays decided or approved. */
  /**
   * A decision no executor started within the request expiry is not carried out hours later on
   * evidence that has aged: why, or undefined while it is fresh.
   */
  private async staleDecision(service: string, rollbackId: string): Promise<string | undefined> {
    const maxAgeMs = this.options.requestExpiryMs ?? DEFAULT_REQUEST_EXPIRY_MS;
    for await (const event of this.store.readStream(serviceStream(service), { direction: 'backwards' })) {
      if (event.type !== 'RollbackDecided' || (event.data as { rollbackId?: string }).rollbackId !== rollbackId)
        continue;
      const ageMs = this.now().getTime() - event.recordedAt.getTime();
      if (ageMs <= maxAgeMs) return undefined;
      const minutes = (ms: number) => Math.round(ms / 60_000);
      return (
        `decided at ${event.recordedAt.toISOString()} and not started by any executor within ` +
        `${minutes(maxAgeMs)} min (${minutes(ageMs)} min ago): its evidence is stale, a person must judge`
      );
    }
    return undefined;
  }

  private async escalate(service: string, rollbackId: string, why: string): Promise<void> {
    const reason = `cannot be carried out: ${why}`.slice(0, 2000);
    try {
      await this.command(service, { type: 'EscalateRollback', service, rollbackId, reason, severity: 'P1' });
      this.options.log?.(`${service}: rollback ${rollbackId} escalated: ${reason}`);
    } catch (error) {
      if (!isLostRace(error)) throw error;
    }
  }

  /** The seeds' post-rollback verification, over a window, recorded: the policy acts on a failure. */
  private async verify(service: string, rollback: Rollback, state: ServiceState): Promise<void> {
    const release = state.currentRelease;
    const declared = release ? await this.driver.expectedTools?.(service, release) : undefined;
    const checks = await verifyInstances(await this.driver.instances(service), {
      windowMs: this.options.verificationWindowMs ?? DEFAULT_VERIFICATION_WINDOW_MS,
      probes: this.options.verificationProbes ?? 3,
      maxErrorRate: this.options.maxErrorRateAfterRollback ?? 0.05,
      minCalls: this.options.minCallsAfterRollback ?? 10,
      probeTool: this.options.probeTools?.[service],
      // Legacy mode serves a smaller, legacy tool set the release does not declare: only the weaker check holds then.
      expectedTools: state.legacyMode ? undefined : declared?.filter((tool) => !state.disabledTools.includes(tool)),
      signal: this.stopping.signal,
    }).catch((error: unknown) => {
      if (this.stopping.signal.aborted) return undefined;
      throw error;
    });
    if (!checks) return this.options.log?.(`${service}: rollback ${rollback.id} is verified at the next start`);
    try {
      // Still true if someone appended meanwhile, as long as it is the same rollback: decided again on the new stream.
      await this.command(service, { type: 'RecordRollbackVerification', service, rollbackId: rollback.id, checks }, 3);
    } catch (error) {
      if (!isLostRace(error)) throw error;
      return;
    }
    const failed = checks.filter((check) => !check.passed).map((check) => check.name);
    const outcome = failed.length === 0 ? 'passed' : `failed (${failed.join(', ')})`;
    this.options.log?.(`${service}: rollback ${rollback.id} verification ${outcome}`);
  }

  /** `lost` aborts the driver's action once this executor lost its lease. */
  private async act(service: string, rollback: Rollback, toRelease: string, lost: AbortSignal): Promise<void> {
    // The key comes from the rollback's decision or request: the same at every attempt at it.
    const asked = (e: RecordedEvent) => {
      const decision = e.type === 'RollbackDecided' || e.type === 'RollbackRequested';
      return decision && (e.data as { rollbackId?: string }).rollbackId === rollback.id;
    };
    if (rollback.mode === 'disable_feature' && rollback.feature) {
      const { scope, target } = rollback.feature;
      const disabled = await this.command(service, {
        type: 'DisableFeature',
        service,
        scope,
        ...(target && { target }),
        reason: `rollback ${rollback.id}`,
      });
      const key = await this.keyOf(service, 'set-feature-flags', asked);
      await this.driver.setFeatureFlags(service, flagsOf(disabled.state), { ...key, signal: lost });
      return;
    }
    if (rollback.migration) {
      const { migrationId, toStage } = rollback.migration;
      await handleCommand(
        this.store,
        migrationStream(migrationId),
        migrationDecider,
        { type: 'RevertMigration', migrationId, toStage, reason: `rollback ${rollback.id}` },
        { actor: EXECUTOR_ACTOR, now: this.now() },
      );
      return;
    }
    const key = await this.keyOf(service, 'rollback', asked);
    await this.driver.rollback(service, toRelease, { ...key, signal: lost });
  }

  async stop(): Promise<void> {
    // A verification under way is dropped, not recorded half done: the next start verifies again.
    this.stopping.abort();
    for (const timer of this.rechecks.values()) clearTimeout(timer);
    await this.subscription?.close();
    await this.loop;
    await this.idle();
  }
}
