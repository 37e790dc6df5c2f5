import { describe, expect, it } from 'vitest';
import { quickVerdicts } from './bench-support.js';

describe('a quick benchmark check', () => {
  it('passes a higher-is-better figure down to half its aim, not below', () => {
    const verdicts = quickVerdicts([
      { name: 'at half', value: 0.4, aim: 0.8, higherIsBetter: true },
      { name: 'below half', value: 0.39, aim: 0.8, higherIsBetter: true },
    ]);
    expect(verdicts.map((v) => v.withinHalf)).toEqual([true, false]);
  });

  it('passes a lower-is-better figure up to twice its aim, not above', () => {
    const verdicts = quickVerdicts([
      { name: 'at twice', value: 10, aim: 5, higherIsBetter: false },
      { name: 'above twice', value: 10.1, aim: 5, higherIsBetter: false },
    ]);
    expect(verdicts.map((v) => v.withinHalf)).toEqual([true, false]);
  });

  it('fails a figure that is not a number: a broken measurement is not a pass', () => {
    const [verdict] = quickVerdicts([{ name: 'NaN', value: Number.NaN, aim: 1, higherIsBetter: true }]);
    expect(verdict?.withinHalf).toBe(false);
  });
});
