import { z } from 'zod';
import { count, identifier, label, ratio, reason, serviceName, stageName } from './common-schemas.js';
import { defineEvent } from './define-event.js';

const stage = stageName;
const migration = { migrationId: identifier, service: serviceName };
const schemaChange = { ...migration, database: identifier, fromVersion: count, toVersion: count };

/**
 * Staged migrations (e.g. the APIL migration legacy → dual_protocol → apil_primary → apil_only)
 * and database schema versions.
 */
export const migrationEvents = [
  defineEvent(
    'MigrationStarted',
    z
      .strictObject({ ...migration, name: label, stages: z.array(stage).min(2), initialStage: stage })
      .refine((d) => d.stages.includes(d.initialStage), { path: ['initialStage'], message: 'must be one of stages' }),
  ),
  defineEvent('MigrationStageAdvanced', z.strictObject({ ...migration, fromStage: stage, toStage: stage })),
  defineEvent('MigrationProgressRecorded', z.strictObject({ ...migration, stage, progress: ratio, errorRate: ratio })),
  defineEvent('MigrationReverted', z.strictObject({ ...migration, fromStage: stage, toStage: stage, reason })),
  defineEvent('MigrationCompleted', z.strictObject({ ...migration, finalStage: stage })),
  defineEvent('SchemaMigrationApplied', z.strictObject(schemaChange)),
  defineEvent('SchemaMigrationReverted', z.strictObject({ ...schemaChange, reason })),
] as const;
