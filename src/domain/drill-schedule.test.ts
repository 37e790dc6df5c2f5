import { describe, it } from 'vitest';
import type { DomainEvent } from '../events/catalogue.js';
import { drillScheduleDecider } from './drill-schedule.js';
import { given } from './given-when-then.js';

const drill = 'high-error-rate';
const set: DomainEvent = {
  type: 'DrillScheduleSet',
  data: { drill, cron: '0 3 1 * *', since: '2026-11-10T00:00:00.000Z' },
};
const claimed = (slot: string): DomainEvent => ({ type: 'DrillSlotClaimed', data: { drill, slot, runId: 'run-1' } });

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

  it('claims a slot that came after the schedule was set', () => {
    given(drillScheduleDecider, set)
      .when({ type: 'ClaimSlot', drill, slot: '2026-12-01T03:00:00.000Z', runId: 'run-2' })
      .then({ type: 'DrillSlotClaimed', data: { drill, slot: '2026-12-01T03:00:00.000Z', runId: 'run-2' } });
  });

  it('never claims a slot twice, nor an older one (exactly once per slot)', () => {
    given(drillScheduleDecider, set, claimed('2026-12-01T03:00:00.000Z'))
      .when({ type: 'ClaimSlot', drill, slot: '2026-12-01T03:00:00.000Z', runId: 'run-3' })
      .thenViolates('slot-already-claimed');
  });

  it('does not run slots from before the schedule existed', () => {
    given(drillScheduleDecider, set)
      .when({ type: 'ClaimSlot', drill, slot: '2026-11-01T03:00:00.000Z', runId: 'run-2' })
      .thenViolates('slot-before-schedule');
    given(drillScheduleDecider)
      .when({ type: 'ClaimSlot', drill, slot: '2026-11-01T03:00:00.000Z', runId: 'run-2' })
      .thenViolates('slot-before-schedule');
  });
});
