import { InvariantViolated, type Decider } from './decider.js';

/** The schema version of one database of one service. */
export interface SchemaState {
  readonly version: number;
}

export type SchemaMigrationCommand =
  | {
      readonly type: 'ApplySchemaMigration';
      readonly migrationId: string;
      readonly service: string;
      readonly database: string;
      readonly toVersion: number;
    }
  | {
      readonly type: 'RevertSchemaMigration';
      readonly migrationId: string;
      readonly service: string;
      readonly database: string;
      readonly toVersion: number;
      readonly reason: string;
    };

/** Database migrations up and down by version, as in the seeds' database rollback procedure. */
export const schemaMigrationDecider: Decider<SchemaMigrationCommand, SchemaState> = {
  initialState: { version: 0 },
  evolve(state, event) {
    return event.type === 'SchemaMigrationApplied' || event.type === 'SchemaMigrationReverted'
      ? { version: event.data.toVersion }
      : state;
  },
  decide(state, command) {
    const up = command.type === 'ApplySchemaMigration';
    const { toVersion } = command;
    if (up ? toVersion <= state.version : toVersion >= state.version || toVersion < 0) {
      throw new InvariantViolated(
        up ? 'schema-up-goes-forward' : 'schema-down-goes-back',
        `${command.database} of ${command.service} is at version ${state.version}; ` +
          `cannot ${up ? 'apply' : 'revert to'} version ${toVersion}`,
      );
    }
    const change = {
      migrationId: command.migrationId,
      service: command.service,
      database: command.database,
      fromVersion: state.version,
      toVersion,
    };
    return [
      command.type === 'ApplySchemaMigration'
        ? { type: 'SchemaMigrationApplied', data: change }
        : { type: 'SchemaMigrationReverted', data: { ...change, reason: command.reason } },
    ];
  },
};
