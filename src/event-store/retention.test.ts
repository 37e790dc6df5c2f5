import { describe, expect, it } from 'vitest';
import { trimDue } from './retention.js';

describe('when a trim is due', () => {
  it('waits for a tenth of maxCount to be past, at least one event', () => {
    expect(trimDue({ maxCount: 100 }, 9, 0, Number.NEGATIVE_INFINITY)).toBe(false);
    expect(trimDue({ maxCount: 100 }, 10, 0, Number.NEGATIVE_INFINITY)).toBe(true);
    expect(trimDue({ maxCount: 5 }, 1, 0, Number.NEGATIVE_INFINITY)).toBe(true);
    expect(trimDue({ maxCount: 5 }, 0, 0, Number.NEGATIVE_INFINITY)).toBe(false);
  });

  it('waits until the oldest event is a tenth of maxAge past the cutoff', () => {
    const cutoff = 1_000_000;
    expect(trimDue({ maxAgeMs: 10_000 }, 0, cutoff - 1_000, cutoff)).toBe(false);
    expect(trimDue({ maxAgeMs: 10_000 }, 0, cutoff - 1_001, cutoff)).toBe(true);
  });

  it('is never due for a stream without limits', () => {
    expect(trimDue({}, 1_000, 0, 1_000_000)).toBe(false);
  });
});
