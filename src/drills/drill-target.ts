import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { handleCommand, loadStream } from '../application/command-handler.js';
import { migrationDecider, type MigrationCommand } from '../domain/migration.js';
import { serviceDecider, type ServiceCommand } from '../domain/service-decider.js';
import type { ServiceState } from '../domain/service.js';
import type { EventStore } from '../event-store/event-store.js';
import { migrationStream, serviceStream } from '../domain/streams.js';

/** Ends early when the signal fires, without throwing: callers check the signal themselves. */
export const pause = (ms: number, signal?: AbortSignal): Promise<unknown> =>
  sleep(ms, undefined, { signal }).catch(() => undefined);

/**
 * The drill's hands on the fleet: Failsafe's own commands (deploy, enable a tool, reject a
 * rollback, move a migration), recorded under the drill's actor, as an operator's would be.
 */
export class DrillTarget {
  constructor(
    private readonly store: EventStore,
    readonly service: string,
    private readonly actor: string,
    private readonly now: () => Date,
  ) {}

  async state(of = this.service): Promise<ServiceState> {
    return (await loadStream(this.store, serviceStream(of), serviceDecider)).state;
  }

  private command(command: ServiceCommand, of = this.service) {
    const context = { actor: this.actor, now: this.now() };
    return handleCommand(this.store, serviceStream(of), serviceDecider, command, context);
  }

  /** Asks Failsafe (its executor) to deploy a release; returns the deployment's id. */
  async requestDeployment(release: string, reason: string, of = this.service): Promise<string> {
    const deploymentId = `d-${randomUUID().slice(0, 8)}`;
    await this.command({ type: 'RequestDeployment', service: of, deploymentId, release, reason, now: this.now() }, of);
    return deploymentId;
  }

  /** Deploys a release and waits until it is healthy (true), failed, or the time (or the signal) is up. */
  async deploy(release: string, reason: string, waitMs: number, of = this.service, signal?: AbortSignal) {
    const deploymentId = await this.requestDeployment(release, reason, of);
    const deadline = this.now().getTime() + waitMs;
    while (this.now().getTime() < deadline) {
      const deployment = (await this.state(of)).deployment;
      if (deployment?.id === deploymentId && deployment.status === 'healthy') return true;
      const ended = ['failed', 'cancelled', 'expired'].includes(deployment?.status ?? '');
      if (deployment?.id === deploymentId && ended) return false;
      await pause(200, signal);
      if (signal?.aborted) return false;
    }
    return false;
  }

  async enableTool(tool: string, reason: string): Promise<void> {
    await this.command({ type: 'EnableFeature', service: this.service, scope: 'tool', target: tool, reason });
  }

  async rejectRollback(rollbackId: string, reason: string): Promise<void> {
    const { service, actor: rejectedBy } = this;
    await this.command({ type: 'RejectRollback', service, rollbackId, rejectedBy, reason });
  }

  async migrate(migrationId: string, command: MigrationCommand): Promise<void> {
    const context = { actor: this.actor, now: this.now() };
    await handleCommand(this.store, migrationStream(migrationId), migrationDecider, command, context);
  }

  async migration(migrationId: string) {
    return (await loadStream(this.store, migrationStream(migrationId), migrationDecider)).state;
  }
}
