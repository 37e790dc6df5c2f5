import { describe, it } from 'vitest';
import type { DomainEvent } from '../events/catalogue.js';
import { given } from './given-when-then.js';
import { migrationDecider } from './migration.js';
import { schemaMigrationDecider } from './schema-migration.js';

const migrationId = 'apil-1';
const service = 'payments';
const stages = ['legacy', 'dual_protocol', 'apil_primary', 'apil_only'];
const started: DomainEvent = {
  type: 'MigrationStarted',
  data: { migrationId, service, name: 'apil', stages, initialStage: 'legacy' },
};
const advanced = (fromStage: string, toStage: string): DomainEvent => ({
  type: 'MigrationStageAdvanced',
  data: { migrationId, service, fromStage, toStage },
});

describe('migration decider', () => {
  it('starts at the first stage and advances one stage at a time', () => {
    given(migrationDecider).when({ type: 'StartMigration', migrationId, service, name: 'apil', stages }).then(started);
    given(migrationDecider, started)
      .when({ type: 'AdvanceMigrationStage', migrationId, toStage: 'dual_protocol' })
      .then(advanced('legacy', 'dual_protocol'));
    given(migrationDecider, started)
      .when({ type: 'AdvanceMigrationStage', migrationId, toStage: 'apil_only' })
      .thenViolates('stages-in-order', /next stage is dual_protocol/);
  });

  it('records progress and error rate against the current stage', () => {
    given(migrationDecider, started, advanced('legacy', 'dual_protocol'))
      .when({ type: 'RecordMigrationProgress', migrationId, progress: 0.5, errorRate: 0.02 })
      .then({
        type: 'MigrationProgressRecorded',
        data: { migrationId, service, stage: 'dual_protocol', progress: 0.5, errorRate: 0.02 },
      });
  });

  it('reverts only to an earlier stage', () => {
    const history = [started, advanced('legacy', 'dual_protocol'), advanced('dual_protocol', 'apil_primary')];
    given(migrationDecider, ...history)
      .when({ type: 'RevertMigration', migrationId, toStage: 'dual_protocol', reason: 'error rate 12 %' })
      .then({
        type: 'MigrationReverted',
        data: { migrationId, service, fromStage: 'apil_primary', toStage: 'dual_protocol', reason: 'error rate 12 %' },
      });
    given(migrationDecider, ...history)
      .when({ type: 'RevertMigration', migrationId, toStage: 'apil_only', reason: 'x' })
      .thenViolates('revert-to-earlier-stage');
  });

  it('completes only at the last stage, and refuses work on a migration not running', () => {
    given(migrationDecider, started)
      .when({ type: 'CompleteMigration', migrationId })
      .thenViolates('complete-at-last-stage');
    given(migrationDecider)
      .when({ type: 'RecordMigrationProgress', migrationId, progress: 0.1, errorRate: 0 })
      .thenViolates('migration-not-running');
    given(migrationDecider, started)
      .when({ type: 'StartMigration', migrationId, service, name: 'apil', stages })
      .thenViolates('migration-already-started');
  });
});

describe('schema migration decider', () => {
  const applied = (fromVersion: number, toVersion: number): DomainEvent => ({
    type: 'SchemaMigrationApplied',
    data: { migrationId: `db-${toVersion}`, service, database: 'main', fromVersion, toVersion },
  });

  it('applies versions upwards and reverts downwards', () => {
    given(schemaMigrationDecider)
      .when({ type: 'ApplySchemaMigration', migrationId: 'db-1', service, database: 'main', toVersion: 1 })
      .then(applied(0, 1));
    given(schemaMigrationDecider, applied(0, 1), applied(1, 2))
      .when({
        type: 'RevertSchemaMigration',
        migrationId: 'db-2-down',
        service,
        database: 'main',
        toVersion: 1,
        reason: 'rollback',
      })
      .then({
        type: 'SchemaMigrationReverted',
        data: { migrationId: 'db-2-down', service, database: 'main', fromVersion: 2, toVersion: 1, reason: 'rollback' },
      });
  });

  it('refuses going the wrong way', () => {
    given(schemaMigrationDecider, applied(0, 1))
      .when({ type: 'ApplySchemaMigration', migrationId: 'x', service, database: 'main', toVersion: 1 })
      .thenViolates('schema-up-goes-forward', /is at version 1/);
    given(schemaMigrationDecider, applied(0, 1))
      .when({ type: 'RevertSchemaMigration', migrationId: 'x', service, database: 'main', toVersion: 3, reason: 'r' })
      .thenViolates('schema-down-goes-back');
  });
});
