import { drillHistoryProjection, type DrillHistoryState } from '../../projections/drill-history.js';
import { eventTime } from '../../projections/event-time.js';
import { incidentsProjection, type IncidentsState } from '../../projections/incidents.js';
import { migrationProgressProjection, type MigrationsState } from '../../projections/migration-progress.js';
import { serviceStateProjection, type ServicesState } from '../../projections/service-state.js';
import type { History } from './history.js';

export interface StateAt {
  readonly at: string;
  readonly eventsApplied: number;
  readonly services: ServicesState;
  readonly incidents: IncidentsState;
  readonly migrations: MigrationsState;
  readonly drills: DrillHistoryState;
}

/** The read models as they were at `at`: every event whose recorded time is not after it, folded from zero. */
export async function replayAt(history: History, at: Date): Promise<StateAt> {
  const limit = at.getTime();
  const services = serviceStateProjection.initialState;
  const incidents = incidentsProjection.initialState;
  const migrations = migrationProgressProjection.initialState;
  const drills = drillHistoryProjection.initialState;
  let eventsApplied = 0;
  for await (const event of history.readDecoded()) {
    if (eventTime(event) > limit) continue;
    serviceStateProjection.apply(services, event);
    incidentsProjection.apply(incidents, event);
    migrationProgressProjection.apply(migrations, event);
    drillHistoryProjection.apply(drills, event);
    eventsApplied += 1;
  }
  return { at: at.toISOString(), eventsApplied, services, incidents, migrations, drills };
}
