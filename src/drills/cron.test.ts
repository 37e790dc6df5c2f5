import { describe, expect, it } from 'vitest';
import { InvalidCron, MONTHLY, nextSlot, parseCron, previousSlot } from './cron.js';
import { drillFileSchema } from './drill-file.js';

const at = (iso: string) => new Date(iso);

describe('cron expressions', () => {
  it('runs monthly by default: 03:00 UTC on the 1st', () => {
    const monthly = parseCron(MONTHLY);
    expect(nextSlot(monthly, at('2026-11-24T10:00:00Z'))).toEqual(at('2026-12-01T03:00:00Z'));
    expect(previousSlot(monthly, at('2026-11-24T10:00:00Z'))).toEqual(at('2026-11-01T03:00:00Z'));
    expect(previousSlot(monthly, at('2026-12-01T03:00:00Z'))).toEqual(at('2026-12-01T03:00:00Z'));
    expect(previousSlot(monthly, at('2026-12-01T03:00:59.999Z'))).toEqual(at('2026-12-01T03:00:00Z'));
  });

  it('understands steps, ranges, lists, names and Sunday as 0 or 7', () => {
    expect(nextSlot(parseCron('*/15 * * * *'), at('2026-11-24T10:07:00Z'))).toEqual(at('2026-11-24T10:15:00Z'));
    expect(nextSlot(parseCron('0 9-17/4 * * 1-5'), at('2026-11-24T13:30:00Z'))).toEqual(at('2026-11-24T17:00:00Z'));
    expect(nextSlot(parseCron('30 2 * * 7'), at('2026-11-24T00:00:00Z'))).toEqual(at('2026-11-29T02:30:00Z'));
    expect(nextSlot(parseCron('@weekly'), at('2026-11-24T00:00:00Z'))).toEqual(at('2026-11-29T00:00:00Z'));
    expect(nextSlot(parseCron('0 0 1,15 * *'), at('2026-11-02T00:00:00Z'))).toEqual(at('2026-11-15T00:00:00Z'));
  });

  it('matches either day field when both are restricted, as cron does', () => {
    // The 13th, or any Friday.
    expect(nextSlot(parseCron('0 0 13 * 5'), at('2026-11-24T00:00:00Z'))).toEqual(at('2026-11-27T00:00:00Z'));
  });

  it('refuses what is not a cron expression, saying why', () => {
    expect(() => parseCron('0 3 1 *')).toThrow(InvalidCron);
    expect(() => parseCron('0 3 1 *')).toThrow(/has 4 fields/);
    expect(() => parseCron('61 * * * *')).toThrow(/Invalid value for minute: 61/);
    expect(() => parseCron('0 0 * * 8')).toThrow(/Invalid value for dayOfWeek: 8/);
    expect(() => parseCron('0 0 * * * *')).toThrow(/has 6 fields/);
    expect(() => parseCron('@fortnightly')).toThrow(InvalidCron);
  });

  it('refuses an expression no date ever matches, and keeps the 29th of February', () => {
    expect(() => parseCron('0 0 31 2 *')).toThrow(/"0 0 31 2 \*": no date ever matches it/);
    expect(() => parseCron('0 0 30 2 *')).toThrow(InvalidCron);
    expect(() => parseCron('0 0 31 4,6,9,11 *')).toThrow(InvalidCron);
    expect(nextSlot(parseCron('0 0 29 2 *'), at('2026-11-24T00:00:00Z'))).toEqual(at('2028-02-29T00:00:00Z'));
  });

  it('makes a drill file with such a schedule invalid, saying why', () => {
    const checked = drillFileSchema.shape.schedule.safeParse('0 0 31 2 *');
    expect(checked.error?.issues.map((i) => i.message)).toEqual([
      expect.stringMatching(/^a cron expression \(minute hour .*\): no date ever matches it/),
    ]);
    expect(drillFileSchema.shape.schedule.safeParse(MONTHLY).success).toBe(true);
  });

  it('reads day and month names', () => {
    expect(nextSlot(parseCron('0 0 * * mon'), at('2026-11-24T00:00:00Z'))).toEqual(at('2026-11-30T00:00:00Z'));
    expect(nextSlot(parseCron('0 0 1 jan *'), at('2026-11-24T00:00:00Z'))).toEqual(at('2027-01-01T00:00:00Z'));
  });
});
