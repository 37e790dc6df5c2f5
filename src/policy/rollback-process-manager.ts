import { handleCommand } from '../application/command-handler.js';
import { InvariantViolated } from '../domain/decider.js';
import { serviceDecider, type ServiceCommand } from '../domain/service-decider.js';
import { WrongExpectedRevision } from '../event-store/errors.js';
import type { EventStore } from '../event-store/event-store.js';
import { encodeEvent, type TypedRecordedEvent } from '../events/catalogue.js';
import type { RollbackPolicy } from './rollback-policy.js';
import type { CheckpointStore } from '../runtime/checkpoint-store.js';
import { ProjectionRunner } from '../runtime/projection-runner.js';
import { rollbackDecisionsProjection, type PendingAppend, type RollbackDecisionsState } from './rollback-decisions.js';

export interface RollbackProcessManagerOptions {
  /**
   * On a first start (no checkpoint), also act on what the history already holds. Off by
   * default: a new Failsafe on an old store rebuilds its read models silently and decides from
   * the first new event on.
   */
  readonly actOnHistory?: boolean;
  readonly log?: (line: string) => void;
}

export const POLICY_ACTOR = 'failsafe:policy';

/**
 * Records each policy decision exactly once: appended with the service stream revision the
 * policy observed (so two Failsafe processes sharing a store never both decide) and with ids
 * derived from the tipping event (so a restart or a replay that decides again writes nothing).
 */
export class RollbackProcessManager {
  private runner: ProjectionRunner<RollbackDecisionsState> | undefined;
  private actAfter = 0n;
  private readonly projection;

  constructor(
    private readonly store: EventStore,
    policy: RollbackPolicy,
    private readonly checkpoints: CheckpointStore,
    private readonly options: RollbackProcessManagerOptions = {},
  ) {
    this.projection = rollbackDecisionsProjection(policy);
  }

  async start(): Promise<void> {
    // A checkpoint of another version of the fold is rebuilt from zero: that is a first start too.
    const resuming = (await this.checkpoints.load(this.projection.name))?.version === this.projection.version;
    if (!resuming && !this.options.actOnHistory) this.actAfter = await this.store.headPosition();
    this.runner = new ProjectionRunner(this.store, this.projection, this.checkpoints, {
      checkpointEvery: 100,
      afterApply: (state, event) => this.act(state, event),
    });
    await this.runner.start();
  }

  private async act(state: RollbackDecisionsState, event: TypedRecordedEvent): Promise<void> {
    if (event.position <= this.actAfter) return;
    for (const decision of state.decisions) {
      const { data } = decision.decided;
      const stuck = decision.events.some((e) => e.type === 'RollbackEscalated');
      const figures = `${data.observed} > ${data.threshold}`;
      const what = `${data.rule} on ${data.service} (${figures}): ${data.mode} rollback ${data.rollbackId}`;
      await this.append(decision, event, stuck ? `${what}, escalated: nothing to roll back to` : what);
    }
    for (const escalation of state.escalations) {
      const { rollbackId, service } = escalation.events[0]!.data as { rollbackId: string; service: string };
      await this.append(escalation, event, `rollback ${rollbackId} of ${service} escalated: its verification failed`);
    }
  }

  private async append(pending: PendingAppend, event: TypedRecordedEvent, what: string): Promise<void> {
    const recorded = pending.events.map((domainEvent, index) =>
      encodeEvent(domainEvent, {
        id: pending.eventIds[index]!,
        actor: POLICY_ACTOR,
        occurredAt: new Date(pending.decidedAt),
        causationId: pending.tippingEventId,
        correlationId: event.metadata.correlationId,
      }),
    );
    try {
      const expected = pending.expectedRevision < 0 ? 'no_stream' : BigInt(pending.expectedRevision);
      await this.store.append(pending.stream, recorded, expected);
      this.options.log?.(`policy: ${what}`);
    } catch (error) {
      // Someone (another Failsafe, an operator) changed the service since: the policy sees that next.
      if (!(error instanceof WrongExpectedRevision)) throw error;
      if (pending.retry) await this.retry(pending, pending.retry, event, what);
    }
  }

  /** An escalation is owed whatever came in between: decided again on the stream as it is now. */
  private async retry(
    pending: PendingAppend,
    command: ServiceCommand,
    event: TypedRecordedEvent,
    what: string,
  ): Promise<void> {
    const context = {
      actor: POLICY_ACTOR,
      now: new Date(pending.decidedAt),
      eventIds: pending.eventIds,
      causationId: pending.tippingEventId,
      ...(event.metadata.correlationId && { correlationId: event.metadata.correlationId }),
    };
    try {
      await handleCommand(this.store, pending.stream, serviceDecider, command, context);
      this.options.log?.(`policy: ${what}`);
    } catch (error) {
      // Already done by someone else (another Failsafe, a person): nothing is owed any more.
      if (!(error instanceof InvariantViolated)) throw error;
    }
  }

  /** Resolves once the policy has judged everything in the store when called. */
  async catchUp(timeoutMs?: number): Promise<void> {
    await this.runner?.catchUp(timeoutMs);
  }

  current(): RollbackDecisionsState | undefined {
    return this.runner?.current().state;
  }

  async stop(): Promise<void> {
    await this.runner?.stop();
  }
}
