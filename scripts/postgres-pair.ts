/**
 * Starts, stops and reports a PostgreSQL primary with a synchronous streaming standby on loopback, for
 * Failsafe to use through the multi-host URL it prints. Data lives in a folder of its own (default in
 * the system temp folder), never the system cluster. Run: npm run postgres:pair -- start|stop|status|promote
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { pairUrl, promoteStandby, STANDBY_NAME, startPostgresPair } from '../src/testing/postgres-pair.js';
import { existingPostgres, type PostgresServer } from '../src/testing/postgres-server.js';

const HELP = `Usage: npm run postgres:pair -- <command> [--dir <folder>]

A PostgreSQL primary and a synchronous streaming-replication standby on 127.0.0.1, for Failsafe's
store (every commit the primary acknowledges is on the standby too).

Commands:
  start     make the pair (first time) or start it again; prints the URL to give Failsafe
  status    whether each server runs, its role, and whether the standby is synchronous
            (exit code 0 when both run, 3 otherwise)
  promote   after the primary is lost: make the standby the primary (and clear
            synchronous_standby_names, or every commit would wait for a standby that does not exist)
  stop      stop both servers (the data stays; start runs them again)

Options:
  --dir <folder>  where the pair's data lives (default ${join(tmpdir(), 'failsafe-postgres-pair')});
                  the postgres user must be able to reach it
  --remove        with stop: also delete the data
  --help          show this help
`;

const Server = z.object({ dir: z.string(), host: z.string(), port: z.number().int() });
const PairFile = z.object({ database: z.string(), primary: Server, standby: Server });
type PairFile = z.infer<typeof PairFile>;

function fail(message: string): never {
  process.stderr.write(`postgres-pair: ${message}\n`);
  process.exit(1);
}

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    dir: { type: 'string', default: join(tmpdir(), 'failsafe-postgres-pair') },
    remove: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
const command = positionals[0];
if (options.help || !command) {
  process.stdout.write(HELP);
  process.exit(options.help ? 0 : 2);
}
const dir = resolve(options.dir);
const pairFile = join(dir, 'pair.json');

function readPair(): PairFile | undefined {
  if (!existsSync(pairFile)) return undefined;
  const parsed = PairFile.safeParse(JSON.parse(readFileSync(pairFile, 'utf8')));
  if (!parsed.success) fail(`${pairFile} is not a pair this script wrote (${parsed.error.message}); move it aside`);
  return parsed.data;
}

const handles = async (pair: PairFile) => ({
  primary: await existingPostgres(pair.primary.dir, pair.primary.host, pair.primary.port),
  standby: await existingPostgres(pair.standby.dir, pair.standby.host, pair.standby.port),
});

/** 'primary', 'standby', or undefined when the server does not answer. */
async function role(server: PostgresServer): Promise<'primary' | 'standby' | undefined> {
  try {
    return (await server.psql('SELECT pg_is_in_recovery()')).trim() === 't' ? 'standby' : 'primary';
  } catch {
    return undefined;
  }
}

/** Once promoted, the standby no longer has standby.signal: the old primary's data is then stale. */
const promoted = (pair: PairFile) => !existsSync(join(pair.standby.dir, 'data', 'standby.signal'));

async function start(): Promise<undefined> {
  const pair = readPair();
  if (!pair) {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const made = await startPostgresPair({ under: dir });
    const file: PairFile = {
      database: 'failsafe',
      primary: { dir: made.primary.dir, host: made.primary.host, port: made.primary.port },
      standby: { dir: made.standby.dir, host: made.standby.host, port: made.standby.port },
    };
    writeFileSync(pairFile, `${JSON.stringify(file, null, 2)}\n`);
    process.stdout.write(
      `started a primary on port ${made.primary.port} and its synchronous standby on port ` +
        `${made.standby.port} (data in ${dir})\n${made.url}\n`,
    );
    return;
  }
  const { primary, standby } = await handles(pair);
  if (promoted(pair)) {
    fail(
      `the standby (port ${pair.standby.port}) was promoted: the old primary's data is stale and starting it ` +
        'would make two primaries. Run `stop --remove`, then `start` for a fresh pair',
    );
  }
  // The primary first: the standby follows it.
  if (!(await role(primary))) await primary.start();
  if (!(await role(standby))) await standby.start();
  process.stdout.write(`the pair runs (data in ${dir})\n${pairUrl(primary, standby, pair.database)}\n`);
}

async function status(): Promise<number> {
  const pair = readPair();
  if (!pair) {
    process.stdout.write(`no pair in ${dir}; run start\n`);
    return 3;
  }
  const servers = await handles(pair);
  let running = 0;
  for (const [name, server] of Object.entries(servers)) {
    const now = await role(server);
    if (now) running += 1;
    let detail = now ? `runs as ${now}` : 'not running';
    if (now === 'primary') {
      const sync = await server.psql(
        `SELECT sync_state FROM pg_stat_replication WHERE application_name = '${STANDBY_NAME}'`,
      );
      detail += sync.trim() ? `, standby replication: ${sync.trim()}` : ', no standby connected';
    }
    process.stdout.write(`${name.padEnd(7)} 127.0.0.1:${server.port}  ${detail}\n`);
  }
  process.stdout.write(`${pairUrl(servers.primary, servers.standby, pair.database)}\n`);
  return running === 2 ? 0 : 3;
}

async function promote(): Promise<undefined> {
  const pair = readPair() ?? fail(`no pair in ${dir}`);
  const { primary, standby } = await handles(pair);
  if ((await role(standby)) !== 'standby') fail(`the standby on port ${standby.port} is not running as a standby`);
  if (await role(primary))
    fail(`the primary on port ${primary.port} still runs: promoting now would make two primaries; stop it first`);
  await promoteStandby(standby);
  process.stdout.write(
    `the standby on port ${standby.port} is the primary now; commits are on this one server until a new ` +
      'standby joins\n',
  );
}

async function stop(): Promise<undefined> {
  const pair = readPair();
  const servers = pair ? Object.values(await handles(pair)) : [];
  // Also servers of a start that was interrupted before it wrote pair.json: each has a data folder here.
  const known = new Set(servers.map((server) => server.dir));
  const folders = existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : [];
  for (const folder of folders) {
    const path = join(dir, folder.name);
    if (folder.isDirectory() && !known.has(path) && existsSync(join(path, 'data')))
      servers.push(await existingPostgres(path, '127.0.0.1', 0));
  }
  // The primary first: a fast shutdown sends its last WAL to the standby before it exits.
  for (const server of servers) await server.stop({ keep: !options.remove });
  if (options.remove) rmSync(dir, { recursive: true, force: true });
  process.stdout.write(
    servers.length > 0 ? `stopped${options.remove ? ' and removed' : ''} the pair in ${dir}\n` : `no pair in ${dir}\n`,
  );
}

const commands: Record<string, () => Promise<number | undefined>> = { start, status, promote, stop };
const run = commands[command] ?? fail(`unknown command "${command}"\n\n${HELP}`);
try {
  process.exitCode = (await run()) ?? 0;
} catch (error) {
  const { message } = error as Error;
  fail(
    /Permission denied/.test(message)
      ? `${message}\nthe postgres user cannot reach ${dir}: pick a --dir whose every parent folder it may enter`
      : message,
  );
}
