import { describe, expect, it } from 'vitest';
import { advance, eventTime } from './event-time.js';
import { recordedEvent } from './recorded-event.fixture.js';

const tick = (at: string) => recordedEvent({ type: 'ClockTicked', data: { at } });

describe('event time', () => {
  it('gives each event its own time, however the read models take turns asking', () => {
    const early = tick('2026-11-24T10:00:00.000Z');
    const late = tick('2026-11-24T10:00:05.000Z');
    const deployed = recordedEvent(
      { type: 'DeploymentStarted', data: { deploymentId: 'd-1', service: 'payments', release: 'v2' } },
      { occurredAt: '2026-11-24T10:00:03.000Z' },
    );
    const asked = [early, early, late, early, deployed, deployed, late].map(eventTime);
    expect(asked.map((t) => new Date(t).toISOString().slice(17, 19))).toEqual([
      '00',
      '00',
      '05',
      '00',
      '03',
      '03',
      '05',
    ]);
    expect(advance(eventTime(late), early)).toBe(Date.parse('2026-11-24T10:00:05.000Z'));
  });
});
