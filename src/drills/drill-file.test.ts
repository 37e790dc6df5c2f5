import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadFleetConfig, type FleetConfig } from '../config/fleet-config.js';
import { InvalidYamlFile } from '../config/yaml-file.js';
import { loadDrill } from './drill-file.js';
import { drillsDir } from './drill.fixture.js';

const scratch = mkdtempSync(join(tmpdir(), 'failsafe-drill-file-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const file = (name: string, text: string) => {
  const root = mkdtempSync(join(scratch, 'd-'));
  mkdirSync(join(root, 'drills'));
  mkdirSync(join(root, 'loadtests'));
  writeFileSync(join(root, 'loadtests', 'load.js'), '');
  const path = join(root, 'drills', `${name}.yaml`);
  writeFileSync(path, text);
  return path;
};

const problems = (path: string, fleet?: FleetConfig) => {
  try {
    loadDrill(path, fleet);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidYamlFile);
    expect((error as Error).message).toContain(`InvalidDrillFile: ${path}`);
    return (error as InvalidYamlFile).problems;
  }
  throw new Error('expected InvalidDrillFile');
};

/** Every drill in drills/, so that a new one is checked too. */
const shipped = readdirSync(drillsDir)
  .filter((name) => name.endsWith('.yaml'))
  .map((name) => name.slice(0, -'.yaml'.length));

describe('drill files', () => {
  it.each(shipped)('the shipped %s is valid', (name) => {
    expect(loadDrill(join(drillsDir, `${name}.yaml`)).drill).toBe(name);
  });

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

  it('lists problems between fields with their lines, among the schema problems', () => {
    const path = file(
      'named',
      [
        'drill: other',
        'description: x',
        'target: { service: s, release: v1, previous: v0 }',
        'load: { script: loadtests/missing.js, rate: 0 }',
        'faults:',
        '  - { name: f, kind: release, release: v2 }',
        '  - name: f',
        '    kind: toxic',
        '    toxic: { type: timeout, attributes: { timeout: 0 } }',
        '    at: 5s',
        '    until: 5s',
        'expectations:',
        '  - { expect: rollback_decided, within: 3m }',
        '  - { expect: no_rollback, during: 10m }',
        '  - { expect: release_after, release: v9 }',
        '  - { expect: release_after, release: v2 }',
        'timeout: 3m',
      ].join('\n'),
    );
    expect(problems(path)).toEqual([
      'line 1: drill: "other" must be the file\'s name: rename the file other.yaml or the drill named',
      expect.stringMatching(/^line 4: load.rate: /),
      expect.stringMatching(
        /^line 4: load.script: loadtests\/missing.js does not exist \(looked for \/.*\/missing.js\)$/,
      ),
      'line 7: faults.1.name: "f" already names faults.0: give each its own',
      'line 11: faults.1.until: 5 s must come after at (5 s)',
      "line 13: expectations.0.within: 180 s is not shorter than the drill's timeout (180 s), which aborts it first",
      "line 14: expectations.1.during: 600 s is not shorter than the drill's timeout (180 s), which aborts it first",
      'line 15: expectations.2.release: "v9" is neither the target\'s release, its previous one nor a fault\'s: ' +
        'the drill never deploys it (v1, v0, v2)',
    ]);
  });

  describe('against the fleet it runs on', () => {
    const drill = [
      'drill: fleet',
      'description: x',
      'target:',
      '  service: s',
      '  release: v1',
      '  previous: v0',
      '  dependencies: { dep: v9, ghost: v1 }',
      'load: { script: loadtests/load.js }',
      'faults:',
      '  - { name: bad, kind: release, release: v3 }',
      '  - { name: slow, kind: toxic, proxy: nowhere, toxic: { type: latency, attributes: { latency: 10 } } }',
      '  - { name: link, kind: toxic, proxy: s-to-dep, toxic: { type: latency, attributes: { latency: 10 } } }',
      'expectations: [{ expect: healthy_after }]',
    ].join('\n');
    const fleetOf = (path: string) => {
      const root = join(dirname(path), '..');
      for (const release of ['v1', 'v2']) {
        mkdirSync(join(root, 'releases', release), { recursive: true });
        writeFileSync(join(root, 'releases', release, 'release.yaml'), '');
      }
      writeFileSync(
        join(root, 'fleet.yaml'),
        [
          'services:',
          '  s: { driver: process, releasesDir: releases, port: 0 }',
          '  dep: { driver: process, releasesDir: releases, port: 0 }',
          'toxiproxy:',
          '  api: 127.0.0.1:8474',
          '  proxies: [{ name: s-to-dep, listen: "127.0.0.1:1", upstream: "127.0.0.1:2" }]',
        ].join('\n'),
      );
      return loadFleetConfig(join(root, 'fleet.yaml'));
    };

    it('refuses releases the releases folder does not have, and unknown services and proxies', () => {
      const path = file('fleet', drill);
      const fleet = fleetOf(path);
      expect(loadDrill(path).drill).toBe('fleet');
      expect(problems(path, fleet)).toEqual([
        expect.stringMatching(
          /^line 6: target.previous: s has no release "v0" \(no \/.*\/releases\/v0\/release.yaml\)$/,
        ),
        expect.stringMatching(/^line 7: target.dependencies.dep: dep has no release "v9"/),
        'line 7: target.dependencies.ghost: "ghost" is not a service of the fleet (s, dep)',
        expect.stringMatching(/^line 10: faults.0.release: s has no release "v3"/),
        'line 11: faults.1.proxy: "nowhere" is not a proxy of the fleet\'s Toxiproxy (s-to-dep)',
      ]);
    });

    it('refuses a target that is not a service of the fleet', () => {
      const path = file('fleet', drill.replace('service: s', 'service: t'));
      expect(problems(path, fleetOf(path))).toContain(
        'line 4: target.service: "t" is not a service of the fleet (s, dep)',
      );
    });

    it('accepts the shipped drills against the sample fleet they run on', () => {
      const fleet = (file: string) => loadFleetConfig(join(drillsDir, 'sample-fleet', file));
      // telemetry-outage cuts the link to Kafka of a service that pushes its telemetry: push-fleet.yaml's.
      // kubernetes-rollback targets a Deployment: kubernetes-fleet.yaml's.
      const special: Record<string, string> = {
        'telemetry-outage': 'push-fleet.yaml',
        'kubernetes-rollback': 'kubernetes-fleet.yaml',
      };
      const fleetOfDrill = (name: string) => fleet(special[name] ?? 'drill-fleet.yaml');
      for (const name of shipped)
        expect(loadDrill(join(drillsDir, `${name}.yaml`), fleetOfDrill(name)).drill).toBe(name);
      expect(() => loadDrill(join(drillsDir, 'telemetry-outage.yaml'), fleet('drill-fleet.yaml'))).toThrow(
        /"failsafe-to-kafka" is not a proxy of the fleet's Toxiproxy/,
      );
    });
  });

  describe('hostile files are refused with a line, and nothing else happens', () => {
    const valid = [
      'drill: hostile',
      'description: x',
      'target: { service: s, release: v1 }',
      'load: { script: loadtests/load.js }',
      'faults: [{ name: f, kind: release, release: v2 }]',
      'expectations: [{ expect: healthy_after }]',
    ];
    const edited = (line: number, text: string) => valid.map((l, i) => (i === line - 1 ? text : l)).join('\n');

    it.each([
      [
        'a script outside the repository',
        edited(4, 'load: { script: ../../../etc/passwd }'),
        /^line 4: load.script: .* is outside the repository/,
      ],
      [
        'an absolute script path',
        edited(4, 'load: { script: /etc/passwd }'),
        /^line 4: load.script: .* is outside the repository/,
      ],
      [
        'a NUL in a script path',
        edited(4, 'load: { script: "loadtests/load.js\\0" }'),
        /^line 4: load.script: .* does not exist/,
      ],
      [
        'a proxy that walks the Toxiproxy API',
        edited(
          5,
          'faults: [{ name: f, kind: toxic, proxy: "../reset", toxic: { type: timeout, attributes: { timeout: 0 } } }]',
        ),
        /^line 5: faults.0.proxy: lower-case/,
      ],
      [
        'a NUL in a fault name',
        edited(5, 'faults: [{ name: "f\\0", kind: release, release: v2 }]'),
        /^line 5: faults.0.name: lower-case/,
      ],
      ['a comma in the drill name', edited(1, 'drill: "a,b"'), /^line 1: drill: lower-case/],
      [
        'a duration past what a timer can wait',
        edited(4, 'load: { script: loadtests/load.js, during: 1e300 }'),
        /^line 4: load.during: at most a day/,
      ],
      [
        'a duration string past a day',
        edited(4, 'load: { script: loadtests/load.js, after: 99999999999999999999m }'),
        /^line 4: load.after: at most a day/,
      ],
      [
        'an infinite rate',
        edited(4, 'load: { script: loadtests/load.js, rate: 1e400 }'),
        /^line 4: load.rate: .*Infinity/,
      ],
      [
        'a tool weight beyond a safe integer',
        edited(4, 'load: { script: loadtests/load.js, tools: { add: 1e20 } }'),
        /^line 4: load.tools.add: /,
      ],
      ['a duplicate key', `${valid.join('\n')}\ndescription: y`, /^line 7: Map keys must be unique/],
      ['an alias without its anchor', edited(2, 'description: *nowhere'), /^line 2: Unresolved alias/],
      [
        'an alias bomb',
        [
          ...valid.slice(0, 5),
          'x: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]',
          'y: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
          'z: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
          'expectations: [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
        ].join('\n'),
        /^line 7: Excessive alias count .*; write the values out$/,
      ],
    ])('%s', (_, text, problem) => {
      expect(problems(file('hostile', text))).toContainEqual(expect.stringMatching(problem));
    });
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
