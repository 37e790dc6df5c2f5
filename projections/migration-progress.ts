import type { Projection } from '../src/runtime/projection.js';
import { advance, eventTime } from './event-time.js';

export interface MigrationView {
  readonly migrationId: string;
  readonly service: string;
  readonly name: string;
  readonly stages: readonly string[];
  stage: string;
  status: 'running' | 'completed';
  progress: number;
  errorRate: number;
  /** When the migration last moved (started, advanced, progressed or reverted): stall detection counts from here. */
  lastMovedAt: number;
  /** The event that last moved it: the evidence of a stall. */
  lastMovedEventId: string;
  /** The newest progress event: the evidence of its error rate. */
  lastProgressEventId?: string | undefined;
}

export interface MigrationsState {
  asOf: number;
  readonly migrations: Record<string, MigrationView>;
}

/** Stage, progress and error rate of every staged migration, and how long since each last moved. */
export const migrationProgressProjection: Projection<MigrationsState> = {
  name: 'migration-progress',
  version: 1,
  get initialState(): MigrationsState {
    return { asOf: 0, migrations: {} };
  },
  apply(state, event) {
    state.asOf = advance(state.asOf, event);
    const at = eventTime(event);
    switch (event.type) {
      case 'MigrationStarted': {
        const { migrationId, service, name, stages, initialStage } = event.data;
        state.migrations[migrationId] = {
          migrationId,
          service,
          name,
          stages,
          stage: initialStage,
          status: 'running',
          progress: 0,
          errorRate: 0,
          lastMovedAt: at,
          lastMovedEventId: event.id,
        };
        return state;
      }
      case 'MigrationStageAdvanced':
      case 'MigrationReverted':
      case 'MigrationProgressRecorded':
      case 'MigrationCompleted': {
        const view = state.migrations[event.data.migrationId];
        if (!view) return state;
        view.lastMovedAt = at;
        view.lastMovedEventId = event.id;
        if (event.type === 'MigrationProgressRecorded') {
          view.progress = event.data.progress;
          view.errorRate = event.data.errorRate;
          view.lastProgressEventId = event.id;
        } else if (event.type === 'MigrationCompleted') {
          view.status = 'completed';
        } else {
          view.stage = event.data.toStage;
          view.progress = 0;
          view.errorRate = 0;
          view.lastProgressEventId = undefined;
        }
        return state;
      }
      default:
        return state;
    }
  },
};

export const stalledForSeconds = (view: MigrationView, now: number): number =>
  view.status === 'running' ? Math.max(0, (now - view.lastMovedAt) / 1000) : 0;
