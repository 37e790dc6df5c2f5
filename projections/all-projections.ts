import type { Projection } from '../src/runtime/projection.js';
import { drillHistoryProjection } from './drill-history.js';
import { drillSchedulesProjection } from './drill-schedules.js';
import { healthWindowsProjection } from './health-windows.js';
import { incidentsProjection } from './incidents.js';
import { migrationProgressProjection } from './migration-progress.js';
import { rollbackTimingsProjection } from './rollback-timings.js';
import { serviceStateProjection } from './service-state.js';
import { telemetryFreshnessProjection } from './telemetry-freshness.js';

/**
 * Every read model Failsafe keeps; `retainSeconds` is the longest window the policy reads,
 * `figureSeconds` the longest it reads samples' figures over.
 */
export const allProjections = (retainSeconds: number, figureSeconds = retainSeconds): readonly Projection<unknown>[] =>
  [
    serviceStateProjection,
    healthWindowsProjection(retainSeconds, [], figureSeconds),
    migrationProgressProjection,
    incidentsProjection,
    drillHistoryProjection,
    drillSchedulesProjection,
    rollbackTimingsProjection,
    telemetryFreshnessProjection,
  ] as readonly Projection<unknown>[];
