import { handleCommand, loadStream } from '../application/command-handler.js';
import { InvariantViolated } from '../domain/decider.js';
import { DEFAULT_REQUEST_EXPIRY_MS, isExpired } from '../domain/deployment.js';
import { migrationDecider, migrationStream } from '../domain/migration.js';
import { isRollbackActive, type Rollback, type ServiceState } from '../domain/service.js';
import { serviceDecider, serviceStream, type ServiceCommand } from '../domain/service-decider.js';
import type { FeatureFlags, TargetDriver } from '../drivers/target-driver.js';
import { WrongExpectedRevision } from '../event-store/errors.js';
import type { EventStore, Subscription } from '../event-store/event-store.js';
import { verifyInstances } from './post-rollback-verification.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ServiceReconcilerOptions {
  /** Attempts at a rollback before it is escalated (default 3). */
  readonly maxAttempts?: number;
  /** Pause before retrying a failed rollback, times the attempt number (default 2 s). */
  readonly retryDelayMs?: number;
  /** How long post-rollback verification watches the error rate (default 2 s). */
  readonly verificationWindowMs?: number;
  readonly maxErrorRateAfterRollback?: number;
  /** A deployment request older than this is expired instead of run (default 15 min). */
  readonly requestExpiryMs?: number;
  readonly clock?: Clock;
  readonly log?: (line: string) => void;
}

export const EXECUTOR_ACTOR = 'failsafe:executor';
const SERVICE_STREAM = 'service-';

const flagsOf = (state: ServiceState): FeatureFlags => ({
  tools: state.disabledTools,
  agents: state.disabledAgents,
  legacyMode: state.legacyMode,
});

/** Another Failsafe took the step first, or the step no longer applies: nothing to do here. */
const isLostRace = (error: unknown) => error instanceof InvariantViolated || error instanceof WrongExpectedRevision;

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
  /** Services whose disabled tools, agents or legacy mode changed (by a person or the policy): to apply. */
  private readonly flagsChanged = new Set<string>();

  constructor(
    private readonly store: EventStore,
    private readonly driver: TargetDriver,
    private readonly options: ServiceReconcilerOptions = {},
  ) {}

  /** Reconciles every service with a stream, then follows new events. */
  async start(): Promise<void> {
    this.subscription = this.store.subscribe();
    const subscription = this.subscription;
    this.loop = (async () => {
      for await (const event of subscription) {
        if (!event.stream.startsWith(SERVICE_STREAM)) continue;
        const service = event.stream.slice(SERVICE_STREAM.length);
        if (event.type === 'FeatureDisabled' || event.type === 'FeatureEnabled') this.flagsChanged.add(service);
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

  private command(service: string, command: ServiceCommand) {
    return handleCommand(this.store, serviceStream(service), serviceDecider, command, { actor: EXECUTOR_ACTOR, now: this.now() }, 1);
  }

  async reconcile(service: string): Promise<void> {
    const { state } = await loadStream(this.store, serviceStream(service), serviceDecider);
    if (state.rollback && (isRollbackActive(state) || state.rollback.status === 'failed')) return this.advanceRollback(service, state.rollback);
    // First, so that a deployment asked for afterwards starts with the flags as they are now.
    if (this.flagsChanged.delete(service) && state.currentRelease) {
      await this.driver.setFeatureFlags(service, flagsOf(state));
      const { disabledTools: tools, disabledAgents: agents, legacyMode } = state;
      this.options.log?.(
        `${service}: disabled tools now ${tools.join(', ') || 'none'}, agents ${agents.join(', ') || 'none'}` +
          `${legacyMode ? ', in legacy mode' : ''}`,
      );
    }
    const deployment = state.deployment;
    if (deployment?.status === 'requested' || deployment?.status === 'started') await this.advanceDeployment(service, deployment);
  }

  private async advanceDeployment(service: string, deployment: NonNullable<ServiceState['deployment']>): Promise<void> {
    const { id: deploymentId, release } = deployment;
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
      try {
        await this.command(service, { type: 'StartDeployment', service, deploymentId });
      } catch (error) {
        if (isLostRace(error)) return;
        throw error;
      }
    }
    try {
      await this.driver.deploy(service, release);
      await this.command(service, { type: 'MarkDeploymentHealthy', service, deploymentId });
      this.options.log?.(`${service}: ${release} deployed`);
    } catch (error) {
      if (isLostRace(error)) return;
      await this.command(service, { type: 'MarkDeploymentFailed', service, deploymentId, reason: (error as Error).message.slice(0, 2000) });
      this.options.log?.(`${service}: deployment of ${release} failed: ${(error as Error).message}`);
    }
  }

  private async advanceRollback(service: string, rollback: Rollback): Promise<void> {
    const rollbackId = rollback.id;
    const maxAttempts = this.options.maxAttempts ?? 3;
    if (rollback.status === 'failed' && rollback.attempts >= maxAttempts) {
      await this.command(service, { type: 'EscalateRollback', service, rollbackId, reason: `${rollback.attempts} attempts failed`, severity: 'P1' }).catch((e: unknown) => {
        if (!isLostRace(e)) throw e;
      });
      this.options.log?.(`${service}: rollback ${rollbackId} escalated after ${rollback.attempts} failed attempts`);
      return;
    }
    if (rollback.status === 'awaiting_approval') return;
    let toRelease = rollback.toRelease;
    if (rollback.status !== 'in_progress') {
      if (rollback.status === 'failed') await sleep((this.options.retryDelayMs ?? 2_000) * rollback.attempts);
      try {
        const started = await this.command(service, { type: 'StartRollback', service, rollbackId, now: this.now() });
        toRelease = (started.events[0]!.data as { toRelease: string }).toRelease;
      } catch (error) {
        if (isLostRace(error)) return this.options.log?.(`${service}: rollback ${rollbackId} not started: ${(error as Error).message}`);
        throw error;
      }
    }
    try {
      await this.act(service, rollback, toRelease!);
      await this.command(service, { type: 'CompleteRollback', service, rollbackId });
    } catch (error) {
      if (isLostRace(error)) return;
      await this.command(service, { type: 'FailRollback', service, rollbackId, reason: (error as Error).message.slice(0, 2000) });
      this.options.log?.(`${service}: rollback ${rollbackId} failed: ${(error as Error).message}`);
      return;
    }
    this.options.log?.(`${service}: rollback ${rollbackId} completed (${rollback.mode}${rollback.mode === 'disable_feature' ? '' : ` to ${toRelease}`})`);
    const checks = await verifyInstances(await this.driver.instances(service), {
      windowMs: this.options.verificationWindowMs ?? 2_000,
      maxErrorRate: this.options.maxErrorRateAfterRollback ?? 0.05,
      clock: this.options.clock,
    });
    await this.command(service, { type: 'RecordRollbackVerification', service, rollbackId, checks });
  }

  private async act(service: string, rollback: Rollback, toRelease: string): Promise<void> {
    if (rollback.mode === 'disable_feature' && rollback.feature) {
      const { scope, target } = rollback.feature;
      const disabled = await this.command(service, { type: 'DisableFeature', service, scope, ...(target && { target }), reason: `rollback ${rollback.id}` });
      await this.driver.setFeatureFlags(service, flagsOf(disabled.state));
      return;
    }
    if (rollback.migration) {
      const { migrationId, toStage } = rollback.migration;
      await handleCommand(this.store, migrationStream(migrationId), migrationDecider, { type: 'RevertMigration', migrationId, toStage, reason: `rollback ${rollback.id}` }, { actor: EXECUTOR_ACTOR, now: this.now() });
      return;
    }
    await this.driver.rollback(service, toRelease);
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
    await this.loop;
    await this.idle();
  }
}
