import type { DomainEvent } from '../events/catalogue.js';
import { InvariantViolated, type Decider } from './decider.js';

/** What a drill's schedule stream (`drill-schedule-<drill>`) records: the slots already claimed. */
export interface DrillScheduleState {
  /** The cron expression in force, and since when: slots before it never were due. */
  readonly cron?: string | undefined;
  readonly since?: string | undefined;
  readonly lastSlot?: string | undefined;
}

export type DrillScheduleCommand =
  | { readonly type: 'SetSchedule'; readonly drill: string; readonly cron: string; readonly at: string }
  | { readonly type: 'ClaimSlot'; readonly drill: string; readonly slot: string; readonly runId: string };

export const drillScheduleStream = (drill: string): string => `drill-schedule-${drill}`;

/**
 * Each slot runs once: a slot is claimed only if it comes after the last one claimed. Appended
 * at the revision read, two schedulers racing for one slot cannot both win; a missed slot is
 * caught up by claiming the latest one (never a backlog of old ones).
 */
export const drillScheduleDecider: Decider<DrillScheduleCommand, DrillScheduleState> = {
  initialState: {},
  evolve(state, event) {
    if (event.type === 'DrillScheduleSet') return { ...state, cron: event.data.cron, since: event.data.since };
    if (event.type === 'DrillSlotClaimed') return { ...state, lastSlot: event.data.slot };
    return state;
  },
  decide(state, command): DomainEvent[] {
    const { drill } = command;
    if (command.type === 'SetSchedule') {
      return state.cron === command.cron
        ? []
        : [{ type: 'DrillScheduleSet', data: { drill, cron: command.cron, since: command.at } }];
    }
    const { slot, runId } = command;
    if (state.since === undefined || Date.parse(slot) < Date.parse(state.since)) {
      throw new InvariantViolated(
        'slot-before-schedule',
        `${drill}'s slot ${slot} comes before its schedule was set (${state.since ?? 'never'})`,
      );
    }
    if (state.lastSlot !== undefined && Date.parse(slot) <= Date.parse(state.lastSlot)) {
      throw new InvariantViolated(
        'slot-already-claimed',
        `${drill}'s slot ${slot} is not after the last one claimed (${state.lastSlot})`,
      );
    }
    return [{ type: 'DrillSlotClaimed', data: { drill, slot, runId } }];
  },
};
