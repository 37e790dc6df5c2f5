import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '../src/events/catalogue.js';
import { foldProjection } from '../src/runtime/projection.js';
import { drillSchedulesProjection, nextDrillDue } from './drill-schedules.js';
import { recordedEvent } from './recorded-event.fixture.js';

const drill = 'high-error-rate';
const set = (cron: string, since: string): DomainEvent => ({ type: 'DrillScheduleSet', data: { drill, cron, since } });
const claimed = (slot: string): DomainEvent => ({ type: 'DrillSlotClaimed', data: { drill, slot, runId: 'run-1' } });
const scheduleAfter = (...events: DomainEvent[]) =>
  foldProjection(
    drillSchedulesProjection,
    events.map((event) => recordedEvent(event)),
  ).drills[drill]!;
const due = (...events: DomainEvent[]) => new Date(nextDrillDue(scheduleAfter(...events))!).toISOString();

describe('drill schedules', () => {
  it('are first due at the first slot after the schedule took force', () => {
    expect(due(set('0 3 1 * *', '2026-11-24T10:00:00.123Z'))).toBe('2026-12-01T03:00:00.000Z');
  });

  it('allow a first slot at the very minute the schedule was set', () => {
    expect(due(set('*/10 * * * *', '2026-11-24T10:00:00.000Z'))).toBe('2026-11-24T10:00:00.000Z');
  });

  it('are next due at the slot after the last one claimed, even long past (overdue)', () => {
    const events = [set('0 3 1 * *', '2026-01-01T00:00:00Z'), claimed('2026-02-01T03:00:00.000Z')];
    expect(due(...events)).toBe('2026-03-01T03:00:00.000Z');
  });

  it('follow a changed cron from when it took force, never from before', () => {
    const events = [set('0 3 1 * *', '2026-01-01T00:00:00Z'), claimed('2026-02-01T03:00:00.000Z')];
    expect(due(...events, set('0 4 * * *', '2026-02-10T00:00:00Z'))).toBe('2026-02-10T04:00:00.000Z');
    expect(due(...events, set('0 4 * * *', '2026-01-20T00:00:00Z'))).toBe('2026-02-01T04:00:00.000Z');
  });
});
