import { Command, InvalidArgumentError } from 'commander';
import { ROLES, type Role } from '../auth/roles.js';
import { hashToken, newToken } from '../auth/tokens.js';
import { action, say } from './cli-support.js';

const role = (value: string): Role => {
  if (!(ROLES as readonly string[]).includes(value)) throw new InvalidArgumentError(`must be one of ${ROLES.join(', ')}`);
  return value as Role;
};

export const tokenCommand = (): Command =>
  new Command('token').description('bearer tokens for the API and the MCP endpoint').addCommand(
    new Command('new')
      .description('make a new token: prints it once, with the entry (its hash) to put under auth.tokens in the config file')
      .requiredOption('--name <name>', 'who holds it: recorded as the actor of every action taken with it')
      .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`, role)
      .action(
        action(async (flags: { name: string; role: Role }) => {
          const token = newToken();
          say(`token (shown once; give it to ${flags.name}): ${token}`);
          say('config file entry:');
          say('auth:');
          say('  tokens:');
          say(`    - { name: ${JSON.stringify(flags.name)}, role: ${flags.role}, sha256: ${hashToken(token)} }`);
        }),
      ),
  );
