import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../', import.meta.url));
/** Tests and their fixtures may read the time; what ships reads it through the clock. */
const isTestCode = (file: string) => /\.(test|fixture|contract)\.ts$/.test(file) || file.endsWith('given-when-then.ts');

const typescript = (...dirs: string[]): string[] =>
  dirs.flatMap((dir) =>
    readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.parentPath.includes('node_modules'))
      .map((entry) => relative(root, join(entry.parentPath, entry.name))),
  );

/** Every .ts and .js file git tracks in the code folders, and the config files at the root. */
const trackedCode = (): string[] => {
  const dirs = ['src', 'projections', 'drills', 'bench', 'docs', 'loadtests', 'bin', 'compose', 'kubernetes'];
  const pathspecs = [...dirs.flatMap((dir) => [`${dir}/*.ts`, `${dir}/*.js`]), ':(glob)*.ts'];
  return execFileSync('git', ['ls-files', '-z', '--', ...pathspecs], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
};

const MAX_LINE = 120;

const matching = (files: readonly string[], pattern: RegExp) =>
  files.filter((file) => pattern.test(readFileSync(join(root, file), 'utf8')));

describe('the codebase', () => {
  it('reads the wall clock only through the clock port, in the control plane', () => {
    const shipped = typescript('src', 'projections').filter((file) => !isTestCode(file));
    const readers = matching(shipped, /new Date\(\)|Date\.now\b/);
    expect(readers).toEqual([join('src', 'runtime', 'clock.ts')]);
  });

  it('waits with node:timers/promises, not with private sleep helpers', () => {
    // A promise whose resolve is handed straight to setTimeout is a sleep written again.
    const sleep = /new Promise(?:<\w+>)?\(\(?(\w+)\)?\s*=>[\s\S]{0,80}?setTimeout\(\1\b/;
    expect(matching(typescript('src', 'projections', 'drills', 'bench'), sleep)).toEqual([]);
  });

  it('imports each vendor SDK in its adapter only (benchmarks may time it bare)', () => {
    const code = typescript('src', 'projections', 'drills', 'scripts').filter((file) => !isTestCode(file));
    const importers = (sdk: string) => matching(code, new RegExp(`from '${sdk}'`));
    expect(importers('kafkajs').filter((file) => !file.startsWith(join('src', 'kafka')))).toEqual([]);
    expect(importers('postgres')).toEqual([join('src', 'event-store', 'postgres-event-store.ts')]);
    expect(importers('@kurrent/kurrentdb-client')).toEqual([join('src', 'event-store', 'eventstoredb-event-store.ts')]);
    const kubernetesDriver = join('src', 'drivers', 'kubernetes-driver.ts');
    expect(importers('@kubernetes/client-node').filter((file) => file !== kubernetesDriver)).toEqual([]);
  });

  it('keeps read models independent of the policy: projections/ never imports src/policy/', () => {
    // The policy reads the read models; the reverse would make them a cycle again.
    const readModels = typescript('projections').filter((file) => !isTestCode(file));
    expect(readModels.length).toBeGreaterThan(5);
    expect(matching(readModels, /from '\.\.\/src\/(policy|execution|application|audit)\//)).toEqual([]);
  });

  it('spells each stream prefix in one place: src/domain/streams.ts', () => {
    // (`drill-` also names Toxiproxy proxies and drill migrations, so it is left out of the pattern.)
    const shipped = typescript('src', 'projections').filter((file) => !isTestCode(file));
    const spellers = matching(shipped, /[`'](service|health|telemetry|migration|schema)-(\$\{|')/);
    expect(spellers).toEqual([join('src', 'domain', 'streams.ts')]);
  });

  it(`keeps lines readable: none longer than ${MAX_LINE} characters`, () => {
    const files = trackedCode();
    expect(files).toEqual(expect.arrayContaining(['src/codebase.test.ts', 'bin/failsafe.js', 'vitest.config.ts']));
    const long = files.flatMap((file) =>
      readFileSync(join(root, file), 'utf8')
        .split(/\r?\n/)
        .flatMap((line, i) => (line.length > MAX_LINE ? [`${file}:${i + 1} has ${line.length} characters`] : [])),
    );
    expect(long).toEqual([]);
  });
});
