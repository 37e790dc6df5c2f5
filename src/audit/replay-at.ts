import { drillHistoryProjection, type DrillHistoryState } from '../../projections/drill-history.js';
import { eventTime } from '../../projections/event-time.js';
import { incidentsProjection, type IncidentsState } from '../../projections/incidents.js';
import { migrationProgressProjection, type MigrationsState } from '../../projections/migration-progress.js';
import { serviceStateProjection, type ServicesState } from '../../projections/service-state.js';
import type { TypedRecordedEvent } from '../events/catalogue.js';
import {
  DEFAULT_SNAPSHOT_EVERY,
  type SnapshotInfo,
  type SnapshotKey,
  type SnapshotStore,
} from '../runtime/snapshot-store.js';
import type { History } from './history.js';
import { FROM_ZERO, SnapshotTaker, usableSnapshot } from './snapshot-taker.js';

export interface StateAt {
  readonly at: string;
  readonly eventsApplied: number;
  readonly services: ServicesState;
  readonly incidents: IncidentsState;
  readonly migrations: MigrationsState;
  readonly drills: DrillHistoryState;
}

type ReadModels = Pick<StateAt, 'services' | 'incidents' | 'migrations' | 'drills'>;

const projections = [serviceStateProjection, incidentsProjection, migrationProgressProjection, drillHistoryProjection];

/** The read models a replay rebuilds, folded together: their snapshots go with every member's version. */
export const REPLAY_AT_SNAPSHOTS: SnapshotKey = {
  name: 'replay-at',
  version: projections.map((p) => `${p.name}@${p.version}`).join(','),
  variant: '',
};

export interface ReplayOptions {
  /** Start from the nearest snapshot and save new ones as the fold goes; without, every replay folds from zero. */
  readonly snapshots?: SnapshotStore;
  /** Events between two snapshots (default DEFAULT_SNAPSHOT_EVERY). */
  readonly snapshotEvery?: number;
}

const initialModels = (): ReadModels => ({
  services: serviceStateProjection.initialState,
  incidents: incidentsProjection.initialState,
  migrations: migrationProgressProjection.initialState,
  drills: drillHistoryProjection.initialState,
});

/**
 * The history after `after`, leaving out the blocks of positions known (from snapshots' blocks) to
 * hold only events recorded after the instant: they would all be skipped anyway, so they are not read.
 */
async function* historyLeavingOut(
  history: History,
  after: bigint,
  blocks: readonly SnapshotInfo[],
): AsyncIterable<TypedRecordedEvent> {
  let next = after + 1n;
  for (const block of blocks) {
    if (block.position < next) continue;
    if (block.blockFrom >= next)
      for await (const event of history.readDecoded(next)) {
        if (event.position > block.blockFrom) break;
        yield event;
      }
    next = block.position + 1n;
  }
  yield* history.readDecoded(next);
}

/**
 * The read models as they were at `at`: every event whose recorded time is not after it, in position
 * order. Recorded times are not monotonic in position (a backlog of samples arrives late), so a
 * snapshot stands for `at` only when every event it covers was recorded at or before `at` (its
 * `maxEventTime`): from the furthest such snapshot, the rest of the history is folded, skipping
 * later events exactly as a fold from zero does, and leaving unread the blocks whose oldest event
 * is after `at`. Snapshots are saved only while no event has been skipped: only then is the state
 * the fold of every event so far.
 */
export async function replayAt(history: History, at: Date, options: ReplayOptions = {}): Promise<StateAt> {
  const limit = at.getTime();
  const { snapshots } = options;
  const start = snapshots
    ? await usableSnapshot(
        history,
        snapshots,
        REPLAY_AT_SNAPSHOTS,
        await snapshots.atOrBeforeTime(REPLAY_AT_SNAPSHOTS, limit),
      )
    : undefined;
  const models = start ? (start.state as ReadModels) : initialModels();
  const from = start ?? FROM_ZERO;
  const blocks = snapshots
    ? (await snapshots.infosAfter(REPLAY_AT_SNAPSHOTS, from.position)).filter((b) => b.blockMinEventTime > limit)
    : [];
  let taker =
    snapshots &&
    new SnapshotTaker(snapshots, REPLAY_AT_SNAPSHOTS, options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY, from);
  // Past the first block left unread, or an event after the instant, the state is no longer the whole fold.
  let leftOutFrom = 2n ** 63n;
  for (const block of blocks) if (block.blockFrom < leftOutFrom) leftOutFrom = block.blockFrom;
  let eventsApplied = from.eventsFolded;
  for await (const event of historyLeavingOut(history, from.position, blocks)) {
    const after = eventTime(event) > limit;
    if (after || event.position > leftOutFrom) taker = undefined;
    if (after) continue;
    serviceStateProjection.apply(models.services, event);
    incidentsProjection.apply(models.incidents, event);
    migrationProgressProjection.apply(models.migrations, event);
    drillHistoryProjection.apply(models.drills, event);
    eventsApplied += 1;
    await taker?.folded(event, () => models);
  }
  await taker?.finish(models);
  return { at: at.toISOString(), eventsApplied, ...models };
}
