import type { Projection } from '../src/runtime/projection.js';
import { drillHistoryProjection } from './drill-history.js';
import { drillSchedulesProjection } from './drill-schedules.js';
import { healthWindowsProjection } from './health-windows.js';
import { incidentsProjection } from './incidents.js';
import { migrationProgressProjection } from './migration-progress.js';
import { rollbackTimingsProjection } from './rollback-timings.js';
import { serviceStateProjection } from './service-state.js';
import { telemetryFreshnessProjection } from './telemetry-freshness.js';

/** Every read model Failsafe keeps; `retainSeconds` is the longest window the policy reads. */
export const allProjections = (retainSeconds: number): readonly Projection<unknown>[] =>
  [
    serviceStateProjection,
    healthWindowsProjection(retainSeconds),
    migrationProgressProjection,
    incidentsProjection,
    drillHistoryProjection,
    drillSchedulesProjection,
    rollbackTimingsProjection,
    telemetryFreshnessProjection,
  ] as readonly Projection<unknown>[];
