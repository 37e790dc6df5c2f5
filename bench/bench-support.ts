import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

export const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

/** Runs `work` and returns elapsed seconds. */
export async function timed(work: () => unknown): Promise<number> {
  const start = performance.now();
  await work();
  return (performance.now() - start) / 1000;
}

export const progress = (message: string): void => {
  process.stderr.write(`  … ${message}\n`);
};

export const fmt = (value: number, digits = 0): string =>
  value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export interface Row {
  readonly measure: string;
  readonly ours: string;
  readonly bare: string;
  readonly ratio: string;
  readonly aim: string;
}

export function printTable(rows: readonly Row[], bare = 'bare better-sqlite3'): void {
  const headers: Row = { measure: 'measure', ours: 'failsafe', bare, ratio: 'ratio', aim: 'aim' };
  const keys = Object.keys(headers) as (keyof Row)[];
  printGrid(
    keys.map((k) => headers[k]),
    rows.map((row) => keys.map((k) => row[k])),
  );
}

/** A text table: the first column left-aligned, the others right-aligned. */
export function printGrid(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((_, i) => Math.max(...[headers, ...rows].map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    widths.map((w, i) => (i === 0 ? (r[i] ?? '').padEnd(w) : (r[i] ?? '').padStart(w))).join('  ');
  console.log(line(headers));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

/** The 1-minute load average: other work on the machine skews every figure, so it is reported. */
export const loadAverage = (): number => Math.round(loadavg()[0]! * 100) / 100;

/**
 * Writes a run's figures as JSON to `bench/results/<benchmark>-<start time>.json`, with the machine and its load,
 * and says where.
 */
export function writeResults(
  benchmark: string,
  startedAt: Date,
  load: { readonly start: number; readonly end: number },
  details: Record<string, unknown>,
): void {
  const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${benchmark}-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  const report = {
    benchmark,
    date: startedAt.toISOString(),
    seconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    command: process.argv.slice(2),
    machine: { node: process.version, cores: cpus().length, cpu: cpus()[0]?.model, loadAverage: load },
    ...details,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`figures written to ${file}`);
}

/**
 * A benchmark's whole-number options (`--name value`, each with its default), read from the command
 * line: `--help` prints `help` and exits; a value that is not a whole number above 0 exits with 2,
 * saying which option.
 */
export function positiveOptions<const Name extends string>(
  help: string,
  defaults: Readonly<Record<Name, number>>,
): Record<Name, number> {
  const names = Object.keys(defaults) as Name[];
  const { values } = parseArgs({
    options: {
      ...Object.fromEntries(names.map((name) => [name, { type: 'string', default: String(defaults[name]) }])),
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(help);
    process.exit(0);
  }
  const given = values as Record<string, unknown>;
  const read = (name: Name): number => {
    const value = Number(given[name]);
    if (!Number.isInteger(value) || value <= 0) {
      process.stderr.write(`--${name} must be a positive whole number, got "${String(given[name])}"\n\n${help}`);
      process.exit(2);
    }
    return value;
  };
  return Object.fromEntries(names.map((name) => [name, read(name)])) as Record<Name, number>;
}

/** One figure of a benchmark's quick mode, beside its aim (same unit; a ratio for ratios). */
export interface QuickCheck {
  name: string;
  value: number;
  aim: number;
  higherIsBetter: boolean;
}

/**
 * Ends a quick run (CI): prints one `QUICK {...}` line with every check, and exits with 3 when any
 * value is worse than half its aim (for lower-is-better: above twice its aim), 0 otherwise.
 */
export function reportQuick(checks: readonly QuickCheck[]): never {
  console.log(`QUICK ${JSON.stringify({ checks })}`);
  const failed = checks.some((c) => (c.higherIsBetter ? c.value < c.aim / 2 : c.value > c.aim * 2));
  process.exit(failed ? 3 : 0);
}
