import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));
const drills = fileURLToPath(new URL('../../drills/', import.meta.url));
const sampleFleet = join(drills, 'sample-fleet', 'drill-fleet.yaml');

const failsafe = (args: string[]) => {
  const env = { ...process.env };
  delete env.FAILSAFE_FLEET;
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000, env });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
};

const drill = (release: string, extra: string[] = []) =>
  [
    'drill: mine',
    'description: x',
    'target: { service: sample, release: v1.0.0 }',
    'load: { script: loadtests/load.js }',
    'faults:',
    `  - { name: bad, kind: release, release: ${release} }`,
    '  - { name: slow, kind: toxic, proxy: sample-to-inventory, toxic: { type: latency, attributes: { latency: 5 } } }',
    'expectations: [{ expect: healthy_after }]',
    ...extra,
  ].join('\n');

describe('failsafe drill validate', () => {
  let root: string;
  let path: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'failsafe-drill-validate-'));
    mkdirSync(join(root, 'drills'));
    mkdirSync(join(root, 'loadtests'));
    writeFileSync(join(root, 'loadtests', 'load.js'), '');
    path = join(root, 'drills', 'mine.yaml');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('prints every problem of every file with its line and exits 1; a good file is OK', () => {
    writeFileSync(
      path,
      drill('v2.0.0-errors')
        .replace('drill: mine', 'drill: yours')
        .replace('latency: 5', 'latency: -5')
        .replace(
          'expectations: [{ expect: healthy_after }]',
          'expectations: [{ expect: rollback_decided, within: 2m }, { expect: release_after, release: v7 }]\n' +
            'timeout: 1m',
        ),
    );
    const shipped = join(drills, 'high-error-rate.yaml');
    const { code, stdout } = failsafe(['drill', 'validate', shipped, path]);
    expect(code).toBe(1);
    expect(stdout).toContain(`${shipped}: OK (high-error-rate: 1 fault(s), 6 expectation(s))`);
    expect(stdout).toContain(`InvalidDrillFile: ${path} has 4 problem(s)`);
    expect(stdout.split('\n').filter((l) => l.startsWith('  - '))).toEqual([
      expect.stringMatching(/^ {2}- line 1: drill: "yours" must be the file's name/),
      expect.stringMatching(/^ {2}- line 7: faults.1.toxic.attributes.latency: /),
      expect.stringMatching(/^ {2}- line 8: expectations.0.within: 120 s is not shorter than the drill's timeout/),
      expect.stringMatching(/^ {2}- line 8: expectations.1.release: "v7" is neither the target's release/),
    ]);
  });

  it('with --fleet, refuses a release the fleet does not have, at its line', () => {
    writeFileSync(path, drill('v9.9.9'));
    expect(failsafe(['drill', 'validate', path])).toMatchObject({ code: 0 });
    const { code, stdout } = failsafe(['drill', 'validate', path, '--fleet', sampleFleet]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/ {2}- line 6: faults.0.release: sample has no release "v9.9.9"/);
  });

  it('drill run refuses the same file before it starts anything or writes any data', () => {
    writeFileSync(path, drill('v2.0.0-errors').replace('proxy: sample-to-inventory', 'proxy: sample-to-nowhere'));
    const dataDir = join(root, 'data');
    const { code, stderr } = failsafe(['drill', 'run', path, '--fleet', sampleFleet, '--data-dir', dataDir]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/InvalidDrillFile: .*mine.yaml has 1 problem/);
    expect(stderr).toMatch(/line 7: faults.1.proxy: "sample-to-nowhere" is not a proxy of the fleet's Toxiproxy/);
    expect(existsSync(dataDir)).toBe(false);
  });
});
