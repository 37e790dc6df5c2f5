import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fixedClock, systemClock } from './clock.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** Tests and their fixtures may read the time; what ships reads it through the clock. */
const isTestCode = (file: string) => /\.(test|fixture|contract)\.ts$/.test(file) || file.endsWith('given-when-then.ts');

const sources = (dir: string): string[] =>
  readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !isTestCode(entry.name))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));

describe('the clock', () => {
  it('is the only reader of the wall clock in the control plane', () => {
    const readers = [...sources('src'), ...sources('projections')]
      .filter((file) => file !== join('src', 'runtime', 'clock.ts'))
      .filter((file) => /new Date\(\)|Date\.now\b/.test(readFileSync(join(root, file), 'utf8')));
    expect(readers).toEqual([]);
  });

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
