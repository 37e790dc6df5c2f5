import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { auditCommand, explainCommand, replayCommand } from './audit-commands.js';
import { eventsCommand } from './events-command.js';
import { fleetCommands } from './fleet-commands.js';
import { serveCommand } from './serve-command.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('failsafe')
  .description('Failsafe: event-sourced control plane for fleets of MCP servers')
  .version(version)
  .showHelpAfterError()
  .addCommand(serveCommand())
  .addCommand(eventsCommand())
  .addCommand(replayCommand())
  .addCommand(explainCommand())
  .addCommand(auditCommand());

for (const command of fleetCommands()) program.addCommand(command);

await program.parseAsync();
