import { Command } from 'commander';
import { auditCommand, explainCommand, replayCommand } from './audit-commands.js';
import { eventsCommand } from './events-command.js';
import { fleetCommands } from './fleet-commands.js';
import { fleetStopCommand } from './fleet-stop-command.js';
import { serveCommand } from './serve-command.js';
import { storeCommand } from './store-commands.js';
import { tokenCommand } from './token-command.js';
import { drillCommand } from './drill-commands.js';
import { loginCommands } from './login-commands.js';
import { VERSION } from '../package-version.js';

// `failsafe events read ... | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const program = new Command('failsafe')
  .description('Failsafe: event-sourced control plane for fleets of MCP servers')
  .version(VERSION)
  .showHelpAfterError()
  .addCommand(serveCommand())
  .addCommand(eventsCommand())
  .addCommand(replayCommand())
  .addCommand(explainCommand())
  .addCommand(auditCommand())
  .addCommand(tokenCommand())
  .addCommand(drillCommand())
  .addCommand(fleetStopCommand())
  .addCommand(storeCommand());

for (const command of [...fleetCommands(), ...loginCommands()]) program.addCommand(command);

await program.parseAsync();
