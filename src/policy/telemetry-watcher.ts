import { v5 as uuidv5 } from 'uuid';
import { telemetryFreshnessProjection, type TelemetryFreshnessState } from '../../projections/telemetry-freshness.js';
import { WrongExpectedRevision } from '../event-store/errors.js';
import type { EventStore } from '../event-store/event-store.js';
import { encodeEvent, type TypedRecordedEvent } from '../events/catalogue.js';
import type { CheckpointStore } from '../runtime/checkpoint-store.js';
import type { Projection } from '../runtime/projection.js';
import { ProjectionRunner } from '../runtime/projection-runner.js';
import { judgeTelemetry, type StalenessSettings, type TelemetryDecision } from './telemetry-staleness.js';
import { telemetryStream } from '../domain/streams.js';

export const TELEMETRY_ACTOR = 'failsafe:telemetry';
const TELEMETRY_NAMESPACE = '5b7e2c90-1d3f-5a4b-8c6d-7e8f9a0b1c2d';

/** Derived from the service, the decision and the tipping event: deciding again writes nothing new. */
export const telemetryDecisionId = (decision: TelemetryDecision, tippingEventId: string): string =>
  uuidv5(`${decision.service}:${decision.event.type}:${tippingEventId}`, TELEMETRY_NAMESPACE);

/** A decision, with what it takes to record it exactly once. */
export interface PendingTelemetryAppend extends TelemetryDecision {
  /** `telemetryDecisionId`. */
  readonly eventId: string;
  readonly tippingEventId: string;
  readonly decidedAt: string;
}

export interface TelemetryWatchState {
  readonly freshness: TelemetryFreshnessState;
  /** What the last event led the watcher to decide (empty most of the time). */
  decisions: PendingTelemetryAppend[];
}

/**
 * Only a tick (time passing) or a sample (of that service) changes a service's condition; its own
 * recorded change is judged again too, since the condition may have changed back while it was being recorded.
 */
function scopeOf(event: TypedRecordedEvent): readonly string[] | undefined | false {
  switch (event.type) {
    case 'ClockTicked':
      return undefined;
    case 'HealthSampleRecorded':
    case 'TelemetryStale':
    case 'TelemetryResumed':
      return [event.data.service];
    default:
      return false;
  }
}

/**
 * The watcher as a fold: the freshness read model, plus the decisions after each event.
 * Deterministic, so a replay of the history decides the same at the same events.
 */
export function telemetryWatchProjection(settings: StalenessSettings): Projection<TelemetryWatchState> {
  return {
    name: 'telemetry-watch',
    version: 1,
    get initialState(): TelemetryWatchState {
      return { freshness: telemetryFreshnessProjection.initialState, decisions: [] };
    },
    apply(state, event) {
      telemetryFreshnessProjection.apply(state.freshness, event);
      const scope = scopeOf(event);
      state.decisions =
        scope === false
          ? []
          : judgeTelemetry(state.freshness, settings, scope).map((decision) => ({
              ...decision,
              eventId: telemetryDecisionId(decision, event.id),
              tippingEventId: event.id,
              decidedAt: new Date(state.freshness.asOf).toISOString(),
            }));
      return state;
    },
  };
}

export interface TelemetryWatcherOptions {
  readonly log?: (line: string) => void;
}

/**
 * Records when a pushing service's telemetry goes stale and when it resumes, each exactly once:
 * appended at the telemetry stream revision the watcher observed (two Failsafe processes sharing
 * a store never both record it) with ids derived from the tipping event. It never decides a
 * rollback: silence says nothing about a release.
 */
export class TelemetryWatcher {
  private runner: ProjectionRunner<TelemetryWatchState> | undefined;
  private actAfter = 0n;
  private readonly projection;

  constructor(
    private readonly store: EventStore,
    private readonly settings: StalenessSettings,
    private readonly checkpoints: CheckpointStore,
    private readonly options: TelemetryWatcherOptions = {},
  ) {
    this.projection = telemetryWatchProjection(settings);
  }

  async start(): Promise<void> {
    // A first start judges from the next event on: the condition is judged again at every tick anyway.
    const resuming = (await this.checkpoints.load(this.projection.name))?.version === this.projection.version;
    if (!resuming) this.actAfter = await this.store.headPosition();
    this.runner = new ProjectionRunner(this.store, this.projection, this.checkpoints, {
      checkpointEvery: 100,
      afterApply: (state, event) => this.act(state, event),
    });
    await this.runner.start();
  }

  private async act(state: TelemetryWatchState, event: TypedRecordedEvent): Promise<void> {
    if (event.position <= this.actAfter) return;
    for (const decision of state.decisions) {
      const recorded = encodeEvent(decision.event, {
        id: decision.eventId,
        actor: TELEMETRY_ACTOR,
        occurredAt: new Date(decision.decidedAt),
        causationId: decision.tippingEventId,
        correlationId: event.metadata.correlationId,
      });
      const expected = decision.expectedRevision < 0 ? 'no_stream' : BigInt(decision.expectedRevision);
      try {
        await this.store.append(telemetryStream(decision.service), [recorded], expected);
        this.options.log?.(`telemetry: ${decision.service} ${describe(decision)}`);
      } catch (error) {
        // Another Failsafe recorded it first: this one sees that event next.
        if (!(error instanceof WrongExpectedRevision)) throw error;
      }
    }
  }

  /** The watched services whose telemetry is recorded as stale now, and the others. */
  staleness(): Record<string, boolean> {
    const services = this.runner?.current().state.freshness.services ?? {};
    return Object.fromEntries(this.settings.services.map((s) => [s, services[s]?.staleSince !== undefined]));
  }

  /** Resolves once the watcher has judged everything in the store when called. */
  async catchUp(timeoutMs?: number): Promise<void> {
    await this.runner?.catchUp(timeoutMs);
  }

  current(): TelemetryWatchState | undefined {
    return this.runner?.current().state;
  }

  async stop(): Promise<void> {
    await this.runner?.stop();
  }
}

function describe(decision: PendingTelemetryAppend): string {
  const { event } = decision;
  return event.type === 'TelemetryStale'
    ? `stale: no sample since ${event.data.silentSince} (more than ${event.data.staleAfterSeconds} s)`
    : `resumed at ${event.data.resumedAt} (stale since ${event.data.staleSince})`;
}
