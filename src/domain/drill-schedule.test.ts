import { describe, it } from 'vitest';
import type { DomainEvent } from '../events/catalogue.js';
import { drillScheduleDecider } from './drill-schedule.js';
import { given } from './given-when-then.js';

const drill = 'high-error-rate';
const set: DomainEvent = {
  type: 'DrillScheduleSet',
  data: { drill, cron: '0 3 1 * *', since: '2026-11-10T00:00:00.000Z' },
};
const slot = '2026-12-01T03:00:00.000Z';
const leaseUntil = '2026-12-01T03:02:00.000Z';
const claimed = (at: string, runId = 'run-1'): DomainEvent => ({
  type: 'DrillSlotClaimed',
  data: { drill, slot: at, runId, leaseUntil },
});
/** Claims `at` as `runId` at `now`, the lease two minutes on. */
const claim = (at: string, runId: string, now = '2026-12-01T03:00:05.000Z') =>
  ({
    type: 'ClaimSlot',
    drill,
    slot: at,
    runId,
    now,
    leaseUntil: new Date(Date.parse(now) + 120_000).toISOString(),
  }) as const;

describe('drill schedule', () => {
  it('records a schedule once, and again only when it changes', () => {
    given(drillScheduleDecider)
      .when({ type: 'SetSchedule', drill, cron: '0 3 1 * *', at: '2026-11-10T00:00:00.000Z' })
      .then(set);
    given(drillScheduleDecider, set)
      .when({ type: 'SetSchedule', drill, cron: '0 3 1 * *', at: '2026-11-11T00:00:00.000Z' })
      .then();
    given(drillScheduleDecider, set)
      .when({ type: 'SetSchedule', drill, cron: '0 3 * * 1', at: '2026-11-11T00:00:00.000Z' })
      .then({ type: 'DrillScheduleSet', data: { drill, cron: '0 3 * * 1', since: '2026-11-11T00:00:00.000Z' } });
  });

  it('claims a slot that came after the schedule was set, with a lease', () => {
    given(drillScheduleDecider, set)
      .when(claim(slot, 'run-2'))
      .then({
        type: 'DrillSlotClaimed',
        data: { drill, slot, runId: 'run-2', leaseUntil: '2026-12-01T03:02:05.000Z' },
      });
  });

  it('never claims a slot twice while its lease holds, nor an older one (exactly once per slot)', () => {
    given(drillScheduleDecider, set, claimed(slot))
      .when(claim(slot, 'run-3', '2026-12-01T03:01:59.000Z'))
      .thenViolates('slot-already-claimed', /run run-1 holds it/);
    given(drillScheduleDecider, set, claimed(slot))
      .when(claim('2026-11-30T03:00:00.000Z', 'run-3'))
      .thenViolates('slot-already-claimed');
  });

  it('takes a slot over once its lease has lapsed with its run unfinished, and only then', () => {
    const lapsed = '2026-12-01T03:02:00.000Z';
    given(drillScheduleDecider, set, claimed(slot))
      .when(claim(slot, 'run-3', lapsed))
      .then({
        type: 'DrillSlotTakenOver',
        data: { drill, slot, runId: 'run-3', from: 'run-1', leaseUntil: '2026-12-01T03:04:00.000Z' },
      });
    const renewed: DomainEvent = {
      type: 'DrillSlotLeaseRenewed',
      data: { drill, runId: 'run-1', leaseUntil: '2026-12-01T03:04:00.000Z' },
    };
    given(drillScheduleDecider, set, claimed(slot), renewed)
      .when(claim(slot, 'run-3', lapsed))
      .thenViolates('slot-already-claimed');
    const ended: DomainEvent = { type: 'DrillSlotRunEnded', data: { drill, runId: 'run-1' } };
    given(drillScheduleDecider, set, claimed(slot), ended)
      .when(claim(slot, 'run-3', lapsed))
      .thenViolates('slot-already-claimed');
    // A claim recorded before leases existed never lapses.
    const unleased: DomainEvent = { type: 'DrillSlotClaimed', data: { drill, slot, runId: 'run-1' } };
    given(drillScheduleDecider, set, unleased)
      .when(claim(slot, 'run-3', lapsed))
      .thenViolates('slot-already-claimed');
  });

  it('renews the lease of the run that holds the slot, and of no other', () => {
    given(drillScheduleDecider, set, claimed(slot))
      .when({ type: 'RenewLease', drill, runId: 'run-1', leaseUntil: '2026-12-01T03:03:00.000Z' })
      .then({ type: 'DrillSlotLeaseRenewed', data: { drill, runId: 'run-1', leaseUntil: '2026-12-01T03:03:00.000Z' } });
    const takenOver: DomainEvent = {
      type: 'DrillSlotTakenOver',
      data: { drill, slot, runId: 'run-3', from: 'run-1', leaseUntil: '2026-12-01T03:04:00.000Z' },
    };
    given(drillScheduleDecider, set, claimed(slot), takenOver)
      .when({ type: 'RenewLease', drill, runId: 'run-1', leaseUntil: '2026-12-01T03:03:00.000Z' })
      .thenViolates('lease-lost', /run run-3 took it over/);
  });

  it('ends the run of the claim once', () => {
    given(drillScheduleDecider, set, claimed(slot))
      .when({ type: 'EndRun', drill, runId: 'run-1' })
      .then({ type: 'DrillSlotRunEnded', data: { drill, runId: 'run-1' } });
    given(drillScheduleDecider, set, claimed(slot), { type: 'DrillSlotRunEnded', data: { drill, runId: 'run-1' } })
      .when({ type: 'EndRun', drill, runId: 'run-1' })
      .then();
  });

  it('does not run slots from before the schedule existed', () => {
    given(drillScheduleDecider, set)
      .when(claim('2026-11-01T03:00:00.000Z', 'run-2'))
      .thenViolates('slot-before-schedule');
    given(drillScheduleDecider).when(claim('2026-11-01T03:00:00.000Z', 'run-2')).thenViolates('slot-before-schedule');
  });
});
