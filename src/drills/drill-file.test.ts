import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidYamlFile } from '../config/yaml-file.js';
import { loadDrill } from './drill-file.js';
import { drillsDir } from './drill.fixture.js';

const file = (name: string, text: string) => {
  const root = mkdtempSync(join(tmpdir(), 'failsafe-drill-file-'));
  mkdirSync(join(root, 'drills'));
  mkdirSync(join(root, 'loadtests'));
  writeFileSync(join(root, 'loadtests', 'load.js'), '');
  const path = join(root, 'drills', `${name}.yaml`);
  writeFileSync(path, text);
  return path;
};

const problems = (path: string) => {
  try {
    loadDrill(path);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidYamlFile);
    expect((error as Error).message).toContain(`InvalidDrillFile: ${path}`);
    return (error as InvalidYamlFile).problems;
  }
  throw new Error('expected InvalidDrillFile');
};

describe('drill files', () => {
  it.each(['high-error-rate', 'dependency-latency', 'dependency-down', 'circuit-breaker', 'stalled-migration'])(
    'the shipped %s is valid',
    (name) => {
      expect(loadDrill(join(drillsDir, `${name}.yaml`)).drill).toBe(name);
    },
  );

  it('reads durations and defaults', () => {
    const drill = loadDrill(
      file(
        'd',
        'drill: d\ndescription: x\ntarget: { service: s, release: v1 }\n' +
          'load: { script: loadtests/load.js, during: 2m }\n' +
          'faults: [{ name: f, kind: toxic, toxic: { type: latency, attributes: { latency: 100 } }, ' +
          'at: 500ms, until: 1.5s }]\n' +
          'expectations: [{ expect: healthy_after }]\n',
      ),
    );
    expect(drill.load).toMatchObject({ during: 120_000, before: 5_000, rate: 20 });
    expect(drill.faults[0]).toMatchObject({ at: 500, until: 1_500, stream: 'downstream', toxicity: 1 });
  });

  it('lists every problem with its line', () => {
    const path = file(
      'broken',
      [
        'drill: broken',
        'description: x',
        'target: { service: s }',
        'load: { script: loadtests/load.js, rate: 0 }',
        'faults:',
        '  - { name: f, kind: toxic, toxic: { type: slow, attributes: {} } }',
        'expectations: [{ expect: rollback_decided, within: soon }]',
        'schedule: "0 3 1 *"',
      ].join('\n'),
    );
    expect(problems(path)).toEqual([
      expect.stringMatching(/^line 3: target.release: /),
      expect.stringMatching(/^line 4: load.rate: /),
      expect.stringMatching(/^line 6: faults.0.toxic.type: /),
      expect.stringMatching(/^line 7: expectations.0.within: a duration such as 500ms, 30s or 2m/),
      expect.stringMatching(/^line 8: schedule: a cron expression/),
    ]);
  });

  it('checks what the schema cannot: the name, the script, fault names and times', () => {
    const path = file(
      'named',
      'drill: other\ndescription: x\ntarget: { service: s, release: v1 }\nload: { script: loadtests/missing.js }\n' +
        'faults: [{ name: f, kind: release, release: v2 }, ' +
        '{ name: f, kind: toxic, toxic: { type: timeout, attributes: { timeout: 0 } }, at: 5s, until: 2s }]\n' +
        'expectations: [{ expect: healthy_after }]\n',
    );
    expect(problems(path)).toEqual([
      'drill: "other" must match the file name (named.yaml)',
      expect.stringMatching(/^load.script: loadtests\/missing.js does not exist/),
      'faults: the name "f" is used twice',
      'faults.f: until must come after at',
    ]);
  });

  it('refuses names that are not plain identifiers: service, releases, dependencies and tools', () => {
    const path = file(
      'names',
      [
        'drill: names',
        'description: x',
        'target: { service: "../s", release: "v1/../../x", previous: ".v0", dependencies: { "a,b": v1 } }',
        'load: { script: loadtests/load.js, tools: { "add\\u0000": 1 } }',
        'faults: [{ name: f, kind: release, release: "..", at: 0 }]',
        'expectations: [{ expect: tool_disabled, tool: "refund,add", within: 1s }]',
      ].join('\n'),
    );
    expect(problems(path)).toEqual([
      expect.stringMatching(/^line 3: target.service: must be letters/),
      expect.stringMatching(/^line 3: target.release: must be letters/),
      expect.stringMatching(/^line 3: target.previous: must be letters/),
      expect.stringMatching(/^line 3: target.dependencies.*must be letters/),
      expect.stringMatching(/^line 4: load.tools.*must be letters/),
      expect.stringMatching(/^line 5: faults.0.release: must be letters/),
      expect.stringMatching(/^line 6: expectations.0.tool: must be letters/),
    ]);
  });
});
