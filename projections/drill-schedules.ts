import { nextSlot, parseCron } from '../src/drills/cron.js';
import type { Projection } from '../src/runtime/projection.js';
import { advance } from './event-time.js';

/** A drill's schedule as its stream records it: the cron in force, since when, and the last slot claimed. */
export interface DrillScheduleView {
  readonly cron: string;
  readonly since: string;
  readonly lastSlot?: string | undefined;
}

export interface DrillSchedulesState {
  asOf: number;
  readonly drills: Record<string, DrillScheduleView>;
}

/** Every scheduled drill's cron and last claimed slot: when each drill is next due. */
export const drillSchedulesProjection: Projection<DrillSchedulesState> = {
  name: 'drill-schedules',
  version: 1,
  get initialState(): DrillSchedulesState {
    return { asOf: 0, drills: {} };
  },
  apply(state, event) {
    state.asOf = advance(state.asOf, event);
    switch (event.type) {
      case 'DrillScheduleSet': {
        const { drill, cron, since } = event.data;
        state.drills[drill] = { ...state.drills[drill], cron, since };
        break;
      }
      case 'DrillSlotClaimed':
      case 'DrillSlotTakenOver': {
        const schedule = state.drills[event.data.drill];
        if (schedule) state.drills[event.data.drill] = { ...schedule, lastSlot: event.data.slot };
        break;
      }
      default:
        break;
    }
    return state;
  },
};

/**
 * When a drill's next run is due (epoch ms): the first slot after the last one claimed and not
 * before the schedule took force (the scheduler refuses those). In the past while no scheduler claimed it.
 */
export function nextDrillDue(schedule: DrillScheduleView): number | undefined {
  // Slots are whole minutes: one just before `since` lets a schedule set exactly on a minute run at that minute.
  const since = Date.parse(schedule.since) - 1;
  const from = schedule.lastSlot === undefined ? since : Math.max(since, Date.parse(schedule.lastSlot));
  return nextSlot(parseCron(schedule.cron), new Date(from))?.getTime();
}
