import type { DomainEvent } from '../events/catalogue.js';
import { InvariantViolated, type Decider } from './decider.js';
import { leaseLapsed } from './lease.js';

/** The latest claim of a drill's schedule: whose run it is, until when its lease holds, and whether it ended. */
export interface DrillSlotClaim {
  readonly slot: string;
  readonly runId: string;
  /** Absent on claims from before leases: those are never taken over. */
  readonly leaseUntil?: string | undefined;
  readonly ended: boolean;
}

/** What a drill's schedule stream (`drill-schedule-<drill>`) records: the slots already claimed. */
export interface DrillScheduleState {
  /** The cron expression in force, and since when: slots before it never were due. */
  readonly cron?: string | undefined;
  readonly since?: string | undefined;
  readonly lastSlot?: string | undefined;
  readonly claim?: DrillSlotClaim | undefined;
}

export type DrillScheduleCommand =
  | { readonly type: 'SetSchedule'; readonly drill: string; readonly cron: string; readonly at: string }
  | {
      readonly type: 'ClaimSlot';
      readonly drill: string;
      readonly slot: string;
      readonly runId: string;
      readonly now: string;
      readonly leaseUntil: string;
    }
  | { readonly type: 'RenewLease'; readonly drill: string; readonly runId: string; readonly leaseUntil: string }
  | { readonly type: 'EndRun'; readonly drill: string; readonly runId: string };

/** Whether a claim's runner has stopped renewing it: its lease has run out and its run never ended. */
export const claimLapsed = (claim: DrillSlotClaim | undefined, now: string): claim is DrillSlotClaim =>
  claim !== undefined && !claim.ended && claim.leaseUntil !== undefined && leaseLapsed(claim.leaseUntil, now);

function claimSlot(state: DrillScheduleState, command: Extract<DrillScheduleCommand, { type: 'ClaimSlot' }>) {
  const { drill, slot, runId, leaseUntil } = command;
  if (state.since === undefined || Date.parse(slot) < Date.parse(state.since)) {
    throw new InvariantViolated(
      'slot-before-schedule',
      `${drill}'s slot ${slot} comes before its schedule was set (${state.since ?? 'never'})`,
    );
  }
  const { claim } = state;
  if (claim?.slot === slot && claimLapsed(claim, command.now))
    return [{ type: 'DrillSlotTakenOver', data: { drill, slot, runId, from: claim.runId, leaseUntil } } as const];
  if (state.lastSlot !== undefined && Date.parse(slot) <= Date.parse(state.lastSlot)) {
    const held = claim?.slot === slot && !claim.ended ? `; run ${claim.runId} holds it` : '';
    throw new InvariantViolated(
      'slot-already-claimed',
      `${drill}'s slot ${slot} is not after the last one claimed (${state.lastSlot})${held}`,
    );
  }
  return [{ type: 'DrillSlotClaimed', data: { drill, slot, runId, leaseUntil } } as const];
}

/**
 * Each slot runs once: a slot is claimed only if it comes after the last one claimed. Appended
 * at the revision read, two schedulers racing for one slot cannot both win; a missed slot is
 * caught up by claiming the latest one (never a backlog of old ones). A claim is a lease: its
 * runner renews it, and a claim whose lease lapsed before its run ended is taken over, once.
 */
export const drillScheduleDecider: Decider<DrillScheduleCommand, DrillScheduleState> = {
  initialState: {},
  evolve(state, event) {
    switch (event.type) {
      case 'DrillScheduleSet':
        return { ...state, cron: event.data.cron, since: event.data.since };
      case 'DrillSlotClaimed':
      case 'DrillSlotTakenOver': {
        const { slot, runId, leaseUntil } = event.data;
        return { ...state, lastSlot: slot, claim: { slot, runId, leaseUntil, ended: false } };
      }
      case 'DrillSlotLeaseRenewed':
        return state.claim ? { ...state, claim: { ...state.claim, leaseUntil: event.data.leaseUntil } } : state;
      case 'DrillSlotRunEnded':
        return state.claim ? { ...state, claim: { ...state.claim, ended: true } } : state;
      default:
        return state;
    }
  },
  decide(state, command): DomainEvent[] {
    const { drill } = command;
    const { claim } = state;
    switch (command.type) {
      case 'SetSchedule':
        return state.cron === command.cron
          ? []
          : [{ type: 'DrillScheduleSet', data: { drill, cron: command.cron, since: command.at } }];
      case 'ClaimSlot':
        return claimSlot(state, command);
      case 'RenewLease':
        if (claim?.runId !== command.runId || claim.ended)
          throw new InvariantViolated(
            'lease-lost',
            `${drill}'s run ${command.runId} no longer holds its slot` +
              (claim && claim.runId !== command.runId ? ` (run ${claim.runId} took it over)` : ''),
          );
        return [
          { type: 'DrillSlotLeaseRenewed', data: { drill, runId: command.runId, leaseUntil: command.leaseUntil } },
        ];
      case 'EndRun':
        return claim?.runId === command.runId && !claim.ended
          ? [{ type: 'DrillSlotRunEnded', data: { drill, runId: command.runId } }]
          : [];
    }
  },
};
