import { Command } from 'commander';
import { commandsFor } from './command-modules.js';
import { VERSION } from '../package-version.js';

// `failsafe events read ... | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const program = new Command('failsafe')
  .description('Failsafe: event-sourced control plane for fleets of MCP servers')
  .version(VERSION)
  .showHelpAfterError();

for (const command of await commandsFor(process.argv.slice(2))) program.addCommand(command);

await program.parseAsync();
