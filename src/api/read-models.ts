import { drillHistoryProjection, type DrillHistoryState } from '../../projections/drill-history.js';
import { drillSchedulesProjection, type DrillSchedulesState } from '../../projections/drill-schedules.js';
import { incidentsProjection, type IncidentsState } from '../../projections/incidents.js';
import { migrationProgressProjection, type MigrationsState } from '../../projections/migration-progress.js';
import { rollbackTimingsProjection, type RollbackTimingsState } from '../../projections/rollback-timings.js';
import { serviceStateProjection, type ServicesState } from '../../projections/service-state.js';
import type { EventStore } from '../event-store/event-store.js';
import type { CheckpointStore } from '../runtime/checkpoint-store.js';
import { ProjectionRunner } from '../runtime/projection-runner.js';

/** How far each read model is behind the store, in events: what /ready and the lag gauge report. */
export type Lag = Record<string, number>;

/** The read models the API answers from, kept up to date live. */
export class ReadModels {
  readonly services: ProjectionRunner<ServicesState>;
  readonly migrations: ProjectionRunner<MigrationsState>;
  readonly drills: ProjectionRunner<DrillHistoryState>;
  readonly incidents: ProjectionRunner<IncidentsState>;
  /** For the drill and rollback gauges of /metrics. */
  readonly drillSchedules: ProjectionRunner<DrillSchedulesState>;
  readonly rollbackTimings: ProjectionRunner<RollbackTimingsState>;

  constructor(
    private readonly store: EventStore,
    checkpoints: CheckpointStore,
  ) {
    this.services = new ProjectionRunner(store, serviceStateProjection, checkpoints);
    this.migrations = new ProjectionRunner(store, migrationProgressProjection, checkpoints);
    this.drills = new ProjectionRunner(store, drillHistoryProjection, checkpoints);
    this.incidents = new ProjectionRunner(store, incidentsProjection, checkpoints);
    this.drillSchedules = new ProjectionRunner(store, drillSchedulesProjection, checkpoints);
    this.rollbackTimings = new ProjectionRunner(store, rollbackTimingsProjection, checkpoints);
  }

  private get runners(): ProjectionRunner<unknown>[] {
    return [
      this.services,
      this.migrations,
      this.drills,
      this.incidents,
      this.drillSchedules,
      this.rollbackTimings,
    ] as ProjectionRunner<unknown>[];
  }

  async start(): Promise<void> {
    for (const runner of this.runners) await runner.start();
  }

  async stop(): Promise<void> {
    for (const runner of this.runners) await runner.stop();
  }

  /** Resolves once every read model has applied what the store held when called (read-your-writes). */
  async catchUp(timeoutMs?: number): Promise<void> {
    const head = await this.store.headPosition();
    await Promise.all(this.runners.map((runner) => runner.waitFor(head, timeoutMs)));
  }

  async lag(): Promise<Lag> {
    const head = await this.store.headPosition();
    return Object.fromEntries(this.runners.map((runner) => [runner.name, Number(head - runner.current().position)]));
  }
}
