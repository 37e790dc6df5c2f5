import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { advance, eventTime, parseTime } from './event-time.js';
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

  it('reads a time exactly as Date.parse does, in range or not, in the ISO form or another', () => {
    const field = (width: number) =>
      fc.integer({ min: 0, max: 10 ** width - 1 }).map((n) => `${n}`.padStart(width, '0'));
    // The ISO form with any digits in its fields (a 13th month, a 31st of February, hour 24, year 0042).
    const shaped = fc
      .tuple(field(4), field(2), field(2), field(2), field(2), field(2), field(3))
      .map(([y, mo, d, h, mi, s, ms]) => `${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`);
    const written = fc
      .date({ min: new Date(Date.UTC(1000, 0, 1)), max: new Date(Date.UTC(9999, 11, 31)), noInvalidDate: true })
      .map((d) => d.toISOString());
    const other = fc.oneof(
      fc.constantFrom('2026-11-24T10:00:00Z', '2026-11-24T10:00:00.000+01:00', '2026-11-24', 'x', ''),
      fc.string({ minLength: 24, maxLength: 24 }),
    );
    fc.assert(
      fc.property(fc.oneof(shaped, written, other), (text) => {
        expect(parseTime(text)).toBe(Date.parse(text));
      }),
      { numRuns: 5000 },
    );
  });
});
