import type { DomainEvent } from '../events/catalogue.js';
import { InvariantViolated, type Decider } from './decider.js';

export interface MigrationState {
  readonly migrationId?: string;
  readonly service?: string;
  readonly stages: readonly string[];
  readonly stage?: string;
  readonly status: 'not_started' | 'running' | 'completed';
  readonly progress: number;
  readonly errorRate: number;
}

export type MigrationCommand =
  | {
      readonly type: 'StartMigration';
      readonly migrationId: string;
      readonly service: string;
      readonly name: string;
      readonly stages: readonly string[];
      readonly initialStage?: string;
    }
  | { readonly type: 'AdvanceMigrationStage'; readonly migrationId: string; readonly toStage: string }
  | {
      readonly type: 'RecordMigrationProgress';
      readonly migrationId: string;
      readonly progress: number;
      readonly errorRate: number;
    }
  | {
      readonly type: 'RevertMigration';
      readonly migrationId: string;
      readonly toStage: string;
      readonly reason: string;
    }
  | { readonly type: 'CompleteMigration'; readonly migrationId: string };

const initialMigrationState: MigrationState = { stages: [], status: 'not_started', progress: 0, errorRate: 0 };

function running(state: MigrationState, migrationId: string): Required<Pick<MigrationState, 'service' | 'stage'>> {
  if (state.status !== 'running' || state.migrationId !== migrationId) {
    throw new InvariantViolated(
      'migration-not-running',
      `migration ${migrationId} is ${state.status === 'not_started' ? 'not started' : state.status}`,
    );
  }
  return { service: state.service!, stage: state.stage! };
}

/** A staged migration such as the seeds' APIL one: forward one stage at a time, back to any earlier stage. */
export const migrationDecider: Decider<MigrationCommand, MigrationState> = {
  initialState: initialMigrationState,
  evolve(state, event) {
    switch (event.type) {
      case 'MigrationStarted':
        return {
          ...state,
          migrationId: event.data.migrationId,
          service: event.data.service,
          stages: event.data.stages,
          stage: event.data.initialStage,
          status: 'running',
        };
      case 'MigrationStageAdvanced':
        return { ...state, stage: event.data.toStage, progress: 0, errorRate: 0 };
      case 'MigrationProgressRecorded':
        return { ...state, progress: event.data.progress, errorRate: event.data.errorRate };
      case 'MigrationReverted':
        return { ...state, stage: event.data.toStage, progress: 0, errorRate: 0 };
      case 'MigrationCompleted':
        return { ...state, status: 'completed' };
      default:
        return state;
    }
  },
  decide(state, command): DomainEvent[] {
    const { migrationId } = command;
    switch (command.type) {
      case 'StartMigration': {
        if (state.status !== 'not_started')
          throw new InvariantViolated('migration-already-started', `migration ${migrationId} is ${state.status}`);
        if (new Set(command.stages).size !== command.stages.length) {
          throw new InvariantViolated('stages-unique', 'each stage may appear only once');
        }
        const initialStage = command.initialStage ?? command.stages[0]!;
        return [
          {
            type: 'MigrationStarted',
            data: {
              migrationId,
              service: command.service,
              name: command.name,
              stages: [...command.stages],
              initialStage,
            },
          },
        ];
      }
      case 'AdvanceMigrationStage': {
        const { service, stage } = running(state, migrationId);
        const next = state.stages[state.stages.indexOf(stage) + 1];
        if (command.toStage !== next) {
          throw new InvariantViolated(
            'stages-in-order',
            next
              ? `from ${stage} the next stage is ${next}, not ${command.toStage}`
              : `${stage} is the last stage; complete the migration`,
          );
        }
        return [
          {
            type: 'MigrationStageAdvanced',
            data: { migrationId, service, fromStage: stage, toStage: command.toStage },
          },
        ];
      }
      case 'RecordMigrationProgress': {
        const { service, stage } = running(state, migrationId);
        return [
          {
            type: 'MigrationProgressRecorded',
            data: { migrationId, service, stage, progress: command.progress, errorRate: command.errorRate },
          },
        ];
      }
      case 'RevertMigration': {
        const { service, stage } = running(state, migrationId);
        const target = state.stages.indexOf(command.toStage);
        if (target < 0 || target >= state.stages.indexOf(stage)) {
          throw new InvariantViolated(
            'revert-to-earlier-stage',
            `${command.toStage} is not a stage before ${stage} (stages: ${state.stages.join(' → ')})`,
          );
        }
        return [
          {
            type: 'MigrationReverted',
            data: { migrationId, service, fromStage: stage, toStage: command.toStage, reason: command.reason },
          },
        ];
      }
      case 'CompleteMigration': {
        const { service, stage } = running(state, migrationId);
        if (stage !== state.stages.at(-1)) {
          throw new InvariantViolated(
            'complete-at-last-stage',
            `migration ${migrationId} is at ${stage}, not at its last stage ${state.stages.at(-1)}`,
          );
        }
        return [{ type: 'MigrationCompleted', data: { migrationId, service, finalStage: stage } }];
      }
    }
  },
};
