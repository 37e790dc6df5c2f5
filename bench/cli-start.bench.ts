/**
 * How long `failsafe --help` takes, from process start to exit: the compiled CLI (dist/, what
 * `npm ci` builds) against the same command run from the TypeScript sources through tsx
 * (FAILSAFE_FROM_SOURCE=1). Runs alternate so both see the same machine; medians are reported.
 * `npm run bench:cli-start` builds dist/ first. Option: --runs N (default 15).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { fmt, loadAverage, median, printTable } from './bench-support.js';

const bin = fileURLToPath(new URL('../bin/failsafe.js', import.meta.url));
const dist = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 15;
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs needs a positive whole number');
if (!existsSync(dist)) throw new Error('no dist/: run `npm run build` first (`npm run bench:cli-start` does)');

/** One `failsafe --help`, in seconds of wall time; fails loudly if it does not print the usage. */
function helpSeconds(fromSource: boolean): number {
  const start = performance.now();
  const env = { ...process.env, FAILSAFE_FROM_SOURCE: fromSource ? '1' : '' };
  const result = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8', env });
  const seconds = (performance.now() - start) / 1000;
  const printedUsage = result.status === 0 && result.stdout.includes('Usage: failsafe');
  if (!printedUsage) throw new Error(`failsafe --help failed: ${result.stderr}`);
  return seconds;
}

console.log(`failsafe --help, ${runs} runs each, alternating`);
console.log(`Node ${process.version}, load average ${loadAverage()} at the start`);
helpSeconds(false);
helpSeconds(true);
const compiled: number[] = [];
const source: number[] = [];
for (let i = 0; i < runs; i += 1) {
  // Alternate which goes first, so neither always runs on a cache the other warmed.
  const order = i % 2 === 0 ? [false, true] : [true, false];
  for (const fromSource of order) (fromSource ? source : compiled).push(helpSeconds(fromSource));
}
const ms = (values: number[]) => `${fmt(median(values) * 1000)} ms`;
const spread = (values: number[]) => `${fmt(Math.min(...values) * 1000)}–${fmt(Math.max(...values) * 1000)} ms`;
printTable(
  [
    {
      measure: 'failsafe --help, median',
      ours: ms(compiled),
      bare: ms(source),
      ratio: fmt(median(compiled) / median(source), 2),
      aim: '',
    },
    { measure: 'failsafe --help, min–max', ours: spread(compiled), bare: spread(source), ratio: '', aim: '' },
  ],
  'sources through tsx',
);
console.log(`load average at the end: ${loadAverage()}`);
