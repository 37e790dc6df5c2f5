import type { Command } from 'commander';

/**
 * The CLI's commands by module, each module imported only when one of its commands runs: every
 * module pulls in its own dependencies (the event stores, the MCP SDK, the drill harness), and a
 * short command such as `failsafe audit verify` should not start by loading them all. `names` are
 * the module's top-level command names, in the order `--help` lists them (a test checks them
 * against what each module builds).
 */
export interface CommandModule {
  readonly names: readonly string[];
  readonly load: () => Promise<Command[]>;
}

export const commandModules: readonly CommandModule[] = [
  { names: ['serve'], load: async () => [(await import('./serve-command.js')).serveCommand()] },
  { names: ['events'], load: async () => [(await import('./events-command.js')).eventsCommand()] },
  {
    names: ['replay', 'explain', 'audit'],
    load: async () => {
      const audit = await import('./audit-commands.js');
      return [audit.replayCommand(), audit.explainCommand(), audit.auditCommand()];
    },
  },
  { names: ['token'], load: async () => [(await import('./token-command.js')).tokenCommand()] },
  { names: ['drill'], load: async () => [(await import('./drill-commands.js')).drillCommand()] },
  { names: ['fleet'], load: async () => [(await import('./fleet-stop-command.js')).fleetStopCommand()] },
  { names: ['store'], load: async () => [(await import('./store-commands.js')).storeCommand()] },
  {
    names: [
      'deploy',
      'scale',
      'rollback',
      'approve',
      'reject',
      'services',
      'status',
      'register',
      'cancel',
      'tool',
      'agent',
      'legacy-mode',
      'call',
    ],
    load: async () => (await import('./fleet-commands.js')).fleetCommands(),
  },
  { names: ['login', 'logout'], load: async () => (await import('./login-commands.js')).loginCommands() },
];

/**
 * The commands to register for these arguments (`process.argv.slice(2)`): only the module of the
 * command named first, or every module when none is (help, a version, a mistyped name that
 * commander should answer with a suggestion).
 */
export async function commandsFor(args: readonly string[]): Promise<Command[]> {
  const named = commandModules.filter((m) => m.names.includes(args[0] ?? ''));
  const modules = named.length > 0 ? named : commandModules;
  return (await Promise.all(modules.map((m) => m.load()))).flat();
}
