import { describe, expect, it } from 'vitest';
import { fixedClock, systemClock } from './clock.js';

describe('the clock', () => {
  it('tells the system time', () => {
    const before = Date.now();
    expect(systemClock.now().getTime()).toBeGreaterThanOrEqual(before);
  });

  it('stands still when fixed, until moved', () => {
    const clock = fixedClock('2026-11-24T10:00:00Z');
    expect(clock.now().toISOString()).toBe('2026-11-24T10:00:00.000Z');
    clock.set('2026-11-24T11:00:00Z');
    expect(clock.now().toISOString()).toBe('2026-11-24T11:00:00.000Z');
  });
});
