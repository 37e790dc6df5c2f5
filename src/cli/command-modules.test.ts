import { describe, expect, it } from 'vitest';
import { commandModules, commandsFor } from './command-modules.js';

const names = (commands: { name(): string }[]) => commands.map((c) => c.name());

describe('the CLI loads only the module of the command it runs', () => {
  it('lists, for every module, exactly the commands it builds', async () => {
    for (const module of commandModules) expect(names(await module.load())).toEqual(module.names);
  });

  it('gives no two modules the same command name', () => {
    const all = commandModules.flatMap((m) => m.names);
    expect(new Set(all).size).toBe(all.length);
  });

  it('registers only the audit module for `audit verify`, and only the fleet commands for `status`', async () => {
    expect(names(await commandsFor(['audit', 'verify', '--db', 'x']))).toEqual(['replay', 'explain', 'audit']);
    expect(names(await commandsFor(['status', 'sample']))).toContain('deploy');
    expect(names(await commandsFor(['status', 'sample']))).not.toContain('serve');
  });

  it('registers every module for help, a version, no command or a mistyped one', async () => {
    const every = commandModules.flatMap((m) => m.names);
    for (const args of [['--help'], ['help', 'audit'], ['--version'], [], ['audti', 'verify']])
      expect(names(await commandsFor(args))).toEqual(every);
  });
});
