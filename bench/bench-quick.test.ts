import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { quickVerdicts, type QuickCheck } from './bench-support.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../', import.meta.url));

/** The benchmarks with a quick mode: small sizes, same-run ratios, in seconds. */
const QUICK = ['event-store', 'projections', 'snapshots', 'front-door', 'kubernetes-rollback', 'recovery'] as const;

/** Each benchmark's quick mode, in CI: a figure worse than half its aim fails, so no large regression lands unseen. */
describe('the benchmarks, in quick mode', () => {
  it.each(QUICK)('%s: every figure within half of its aim', { timeout: 300_000 }, async (bench) => {
    const { stdout, code } = await run(process.execPath, ['--import', 'tsx', `bench/${bench}.bench.ts`, '--quick'], {
      cwd: root,
      maxBuffer: 16 * 2 ** 20,
    }).then(
      (done) => ({ stdout: done.stdout, code: 0 }),
      (error: { stdout?: string; code?: number }) => ({ stdout: error.stdout ?? '', code: error.code ?? -1 }),
    );
    const line = stdout.split('\n').find((l) => l.startsWith('QUICK '));
    expect(line, `no QUICK line in the output:\n${stdout}`).toBeDefined();
    const { checks } = JSON.parse(line!.slice('QUICK '.length)) as { checks: QuickCheck[] };
    expect(checks.length).toBeGreaterThan(0);
    const failing = quickVerdicts(checks).filter((v) => !v.withinHalf);
    expect(failing, stdout).toEqual([]);
    expect(code).toBe(0);
  });
});
