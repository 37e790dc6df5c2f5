import { serviceStateProjection, type ServicesState } from '../../projections/service-state.js';
import { handleCommand } from '../application/command-handler.js';
import { InvariantViolated } from '../domain/decider.js';
import { isExpired } from '../domain/deployment.js';
import { serviceDecider } from '../domain/service-decider.js';
import { WrongExpectedRevision } from '../event-store/errors.js';
import type { EventStore } from '../event-store/event-store.js';
import type { TypedRecordedEvent } from '../events/catalogue.js';
import type { CheckpointStore } from '../runtime/checkpoint-store.js';
import { ProjectionRunner } from '../runtime/projection-runner.js';
import { serviceStream } from '../domain/streams.js';

export const EXPIRY_ACTOR = 'failsafe:request-expiry';

/**
 * Expires deployment requests that no executor started in time, whether or not an executor runs
 * (`serve` without a fleet, or one whose executor is down). Time comes from the recorded clock
 * ticks: each tick expires what has waited longer than `maxAgeMs` by then.
 */
export class RequestExpiry {
  private readonly runner: ProjectionRunner<ServicesState>;

  constructor(
    private readonly store: EventStore,
    checkpoints: CheckpointStore,
    private readonly options: { readonly maxAgeMs: number; readonly log?: (line: string) => void },
  ) {
    // Its own checkpoint name: a restart resumes where it stopped instead of folding the whole store again.
    const projection = { ...serviceStateProjection, name: 'request-expiry' };
    this.runner = new ProjectionRunner(store, projection, checkpoints, {
      afterApply: (state, event) => this.expire(state, event),
    });
  }

  async start(): Promise<void> {
    await this.runner.start();
  }

  private async expire(state: ServicesState, event: TypedRecordedEvent): Promise<void> {
    if (event.type !== 'ClockTicked') return;
    const now = new Date(event.data.at);
    const { maxAgeMs } = this.options;
    for (const view of Object.values(state.services)) {
      const pending = view.deployment;
      if (pending?.status !== 'requested' || !isExpired(pending, now, maxAgeMs)) continue;
      const { service } = view;
      const command = { type: 'ExpireDeployment', service, deploymentId: pending.id, now, maxAgeMs } as const;
      try {
        await handleCommand(this.store, serviceStream(service), serviceDecider, command, {
          actor: EXPIRY_ACTOR,
          now,
          causationId: event.id,
        });
        this.options.log?.(
          `${service}: deployment ${pending.id} of ${pending.release} expired: no executor started it in time`,
        );
      } catch (error) {
        // Started, cancelled or expired meanwhile (by an executor or another Failsafe): nothing to do.
        if (!(error instanceof InvariantViolated || error instanceof WrongExpectedRevision)) throw error;
      }
    }
  }

  /** Resolves once everything in the store when called has been looked at. */
  async catchUp(timeoutMs?: number): Promise<void> {
    await this.runner.catchUp(timeoutMs);
  }

  async stop(): Promise<void> {
    await this.runner.stop();
  }
}
