import { describe, expect, it } from 'vitest';
import { examplesOf, MalformedExample, mismatchOf } from './guide-examples.js';

const guide = [
  '# A guide', //                                   1
  '```sh', //                                       2
  '$ shown, never run', //                          3
  '```', //                                         4
  '```sh example', //                               5
  '$ failsafe deploy sample v1.0.0 \\', //          6
  '    --reason "first"', //                        7
  'DeploymentStarted', //                           8
  '  sample runs v1.0.0  ', //                      9
  '', //                                            10
  '$ failsafe approve sample rb-1', //              11
  '(exit 1)', //                                    12
  'Forbidden', //                                   13
  '```', //                                         14
].join('\n');

describe('the examples of a guide', () => {
  it('are the `sh example` blocks: commands with their line, continuation lines, fragments and exit status', () => {
    expect(examplesOf(guide, 'guide.md')).toEqual([
      {
        line: 6,
        commands: [
          {
            line: 6,
            text: 'failsafe deploy sample v1.0.0 \\\n    --reason "first"',
            fragments: ['DeploymentStarted', 'sample runs v1.0.0'],
            exitCode: 0,
          },
          { line: 11, text: 'failsafe approve sample rb-1', fragments: ['Forbidden'], exitCode: 1 },
        ],
      },
    ]);
  });

  it('refuse a block that cannot be read, naming the file and line', () => {
    expect(() => examplesOf('```sh example\nDeploymentStarted\n```', 'guide.md')).toThrow(
      new MalformedExample('guide.md', 2, 'an output line before any `$ ` command'),
    );
    expect(() => examplesOf('text\n```sh example\n$ failsafe services\n', 'guide.md')).toThrow(
      /guide\.md:2: .*never closed/,
    );
    expect(() => examplesOf('```sh example\n\n```', 'guide.md')).toThrow(/guide\.md:1: .*without a `\$ ` command/);
  });

  it('match a run that exits as said and prints the fragments in their order', () => {
    const [example] = examplesOf(guide, 'guide.md');
    const [deploy, approve] = example!.commands;
    const printed = 'deployment d-1 requested\n  DeploymentStarted\n  DeploymentHealthy\nsample runs v1.0.0\n';
    expect(mismatchOf(deploy!, { output: printed, status: 0 })).toBeUndefined();
    expect(mismatchOf(deploy!, { output: printed, status: 1 })).toBe('exited with 1, not 0');
    expect(mismatchOf(deploy!, { output: printed, status: undefined })).toBe('exited with nothing, not 0');
    expect(mismatchOf(deploy!, { output: 'sample runs v1.0.0\nDeploymentStarted', status: 0 })).toBe(
      '"sample runs v1.0.0" is not in its output (after the fragments before it)',
    );
    expect(mismatchOf(approve!, { output: 'failsafe: Forbidden: alice may not approve', status: 1 })).toBeUndefined();
    expect(mismatchOf(approve!, { output: 'approved', status: 0 })).toBe('exited with 0, not 1');
  });
});
