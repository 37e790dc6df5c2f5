import { Command, InvalidArgumentError } from 'commander';
import { ADMIN_NAME } from '../auth/admin-token.js';
import { ROLES, type Role } from '../auth/roles.js';
import { hashToken, newToken } from '../auth/tokens.js';
import { configFileSchema } from '../config/serve-config.js';
import { readYamlFile } from '../config/yaml-file.js';
import { identifier, timestamp } from '../events/common-schemas.js';
import { action, named, say } from './cli-support.js';
import { systemClock } from '../runtime/clock.js';

const role = (value: string): Role => {
  if (!(ROLES as readonly string[]).includes(value))
    throw new InvalidArgumentError(`must be one of ${ROLES.join(', ')}`);
  return value as Role;
};

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "90m", "12h", "30d": how long from now. */
const duration = (value: string): number => {
  const match = /^([1-9]\d{0,5})([mhd])$/.exec(value);
  if (!match) throw new InvalidArgumentError('must be a duration such as 90m, 12h or 30d');
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
};

const instant = (value: string): string => {
  if (timestamp.safeParse(value).success) return value;
  throw new InvalidArgumentError('must be an ISO 8601 instant with its offset, e.g. 2027-01-01T00:00:00Z');
};

const usage = (message: string) => Object.assign(new Error(message), { code: 'USAGE' });

/** When a token stops working, as `token list` shows it. */
export const expiryOf = (expiresAt: string | undefined, now: number): string => {
  if (expiresAt === undefined) return 'never expires';
  return Date.parse(expiresAt) <= now ? `EXPIRED at ${expiresAt}` : `expires at ${expiresAt}`;
};

const newCommand = () =>
  new Command('new')
    .description(
      'make a new token: prints it once, with the entry (its hash) to put under auth.tokens in the config file',
    )
    .requiredOption('--name <name>', 'who holds it: recorded as the actor of every action it takes', named(identifier))
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`, role)
    .option('--expires-in <duration>', 'refused after this long, e.g. 90m, 12h, 30d', duration)
    .option('--expires-at <instant>', 'refused from this instant on (ISO 8601)', instant)
    .action(
      action(async (flags: { name: string; role: Role; expiresIn?: number; expiresAt?: string }) => {
        const { name, expiresIn } = flags;
        if (name === ADMIN_NAME) throw usage(`"${ADMIN_NAME}" is the built-in admin's name; name the token's holder`);
        if (expiresIn !== undefined && flags.expiresAt) throw usage('give --expires-in or --expires-at, not both');
        const expiresAt =
          flags.expiresAt ?? (expiresIn ? new Date(systemClock.now().getTime() + expiresIn).toISOString() : undefined);
        const token = newToken();
        say(
          `token (shown once; give it to ${flags.name}; ${expiryOf(expiresAt, systemClock.now().getTime())}): ${token}`,
        );
        say('config file entry:');
        say('auth:');
        say('  tokens:');
        const expiry = expiresAt ? `, expiresAt: "${expiresAt}"` : '';
        say(`    - { name: ${JSON.stringify(flags.name)}, role: ${flags.role}, sha256: ${hashToken(token)}${expiry} }`);
      }),
    );

const listCommand = () =>
  new Command('list')
    .description('the tokens of a config file: name, role and expiry (never the tokens, which are not kept)')
    .option('--config <file>', 'the config file of `failsafe serve` (env FAILSAFE_CONFIG)', process.env.FAILSAFE_CONFIG)
    .action(
      action(async (flags: { config?: string }) => {
        if (!flags.config) throw usage('give --config <file> (or set FAILSAFE_CONFIG)');
        const tokens = readYamlFile(configFileSchema, flags.config, 'InvalidConfigFile').auth?.tokens ?? [];
        say(`${ADMIN_NAME}  admin  (built in: FAILSAFE_ADMIN_TOKEN or the token printed on the first start)`);
        for (const t of tokens) say(`${t.name}  ${t.role}  ${expiryOf(t.expiresAt, systemClock.now().getTime())}`);
      }),
    );

export const tokenCommand = (): Command =>
  new Command('token')
    .description('bearer tokens for the API and the MCP endpoint')
    .addCommand(newCommand())
    .addCommand(listCommand());
