import { describe, expect, it } from 'vitest';
import { progressLine } from './progress-line.js';

describe('progress line', () => {
  it('says how many, how fast, how far and how long is left', () => {
    const sample = { done: 12_000, doneThisRun: 12_000, fraction: 0.25, startFraction: 0, elapsedMs: 4_000 };
    expect(progressLine('events copied', sample)).toBe('12,000 events copied (3,000/s), 25.0 %, about 12 s left');
  });

  it('counts only what this run did when it resumed past the start', () => {
    const sample = { done: 60_000, doneThisRun: 10_000, fraction: 0.6, startFraction: 0.5, elapsedMs: 100_000 };
    expect(progressLine('events copied', sample)).toBe('60,000 events copied (100/s), 60.0 %, about 6 min 40 s left');
  });

  it('gives no estimate before anything moved, nor once done', () => {
    const sample = { done: 0, doneThisRun: 0, fraction: 0, startFraction: 0, elapsedMs: 0 };
    expect(progressLine('events copied', sample)).toBe('0 events copied (0/s), 0.0 %');
    const done = { done: 10, doneThisRun: 10, fraction: 1, startFraction: 0, elapsedMs: 1000 };
    expect(progressLine('events copied', done)).toBe('10 events copied (10/s), 100.0 %');
  });
});
