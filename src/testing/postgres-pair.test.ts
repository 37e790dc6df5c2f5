import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { existingPostgres, postgresBinDir, startPostgres } from './postgres-server.js';

const bin = await postgresBinDir();
if (!bin && process.env.CI === 'true') throw new Error('PostgreSQL is missing: run scripts/provision.sh');

const script = fileURLToPath(new URL('../../scripts/postgres-pair.ts', import.meta.url));
const run = promisify(execFile);

/** Runs the operator's script; its exit code, standard output and error. */
async function pair(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', script, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, signal, stdout, stderr } = error as {
      code: number | null;
      signal: string;
      stdout: string;
      stderr: string;
    };
    // Killed by a signal, it has no exit code: say which signal.
    return { code: code ?? -1, stdout, stderr: stderr || `killed by ${signal}` };
  }
}

/** Runs the script and expects it to succeed; its output. */
async function ok(...args: string[]): Promise<string> {
  const result = await pair(...args);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

/** Command lines of the running processes that mention `text`. */
async function processesMentioning(text: string): Promise<string[]> {
  const { stdout } = await run('ps', ['-eo', 'args']);
  return stdout.split('\n').filter((line) => line.includes(text));
}

describe.skipIf(!bin)('scripts/postgres-pair.ts: a primary and its synchronous standby for operators', () => {
  const parent = mkdtempSync(join(tmpdir(), 'failsafe-pgha-'));
  // The servers run as the postgres user, which must reach the pair's folder.
  chmodSync(parent, 0o755);
  const dir = join(parent, 'pair');
  afterAll(async () => {
    await pair('stop', '--dir', dir, '--remove');
    rmSync(parent, { recursive: true, force: true });
  });

  it('starts both, reports them, replicates a write to the standby, and stop leaves nothing running', async () => {
    const started = await pair('start', '--dir', dir);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    const url = started.stdout.trim().split('\n').at(-1)!;
    expect(url).toMatch(
      /^postgresql:\/\/postgres@127\.0\.0\.1:\d+,127\.0\.0\.1:\d+\/failsafe\?target_session_attrs=read-write$/,
    );

    const status = await pair('status', '--dir', dir);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^primary +127\.0\.0\.1:\d+ +runs as primary, standby replication: sync$/m);
    expect(status.stdout).toMatch(/^standby +127\.0\.0\.1:\d+ +runs as standby$/m);

    const file = JSON.parse(readFileSync(join(dir, 'pair.json'), 'utf8'));
    expect(url).toContain(`:${file.primary.port},127.0.0.1:${file.standby.port}/`);
    const primary = await existingPostgres(file.primary.dir, file.primary.host, file.primary.port);
    const standby = await existingPostgres(file.standby.dir, file.standby.host, file.standby.port);
    await primary.psql("CREATE TABLE t (v text); INSERT INTO t VALUES ('written on the primary')", 'failsafe');
    // Synchronous commit waits for the standby's flush, not its replay: the row shows up shortly after.
    let seen = '';
    for (let attempt = 0; attempt < 50 && !seen; attempt += 1) {
      seen = await standby.psql('SELECT v FROM t', 'failsafe').catch(() => '');
      if (!seen) await sleep(100);
    }
    expect(seen).toBe('written on the primary\n');

    const stopped = await pair('stop', '--dir', dir);
    expect(stopped.code).toBe(0);
    expect(await processesMentioning(dir)).toEqual([]);
    const after = await pair('status', '--dir', dir);
    expect(after.code).toBe(3);
    expect(after.stdout).toMatch(/^primary +127\.0\.0\.1:\d+ +not running$/m);
    expect(after.stdout).toMatch(/^standby +127\.0\.0\.1:\d+ +not running$/m);

    // Started again, the data is still there; stop --remove deletes it.
    await ok('start', '--dir', dir);
    expect(await primary.psql('SELECT v FROM t', 'failsafe')).toBe('written on the primary\n');
    await ok('stop', '--dir', dir, '--remove');
    expect(await processesMentioning(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  }, 120_000);

  it('promotes the standby once the primary is lost, and then refuses to start the stale old primary', async () => {
    await ok('start', '--dir', dir);
    const file = JSON.parse(readFileSync(join(dir, 'pair.json'), 'utf8'));
    const primary = await existingPostgres(file.primary.dir, file.primary.host, file.primary.port);
    const standby = await existingPostgres(file.standby.dir, file.standby.host, file.standby.port);

    const early = await pair('promote', '--dir', dir);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/still runs: promoting now would make two primaries/);

    await primary.psql('CREATE TABLE t (n int); INSERT INTO t VALUES (1)', 'failsafe');
    await primary.stop({ mode: 'immediate', keep: true });
    const promoted = await pair('promote', '--dir', dir);
    expect(promoted.stderr).toBe('');
    expect(promoted.code).toBe(0);
    // A commit returns: synchronous_standby_names, copied from the old primary, was cleared.
    await standby.psql('INSERT INTO t VALUES (2)', 'failsafe');
    expect(await standby.psql('SELECT count(*) FROM t', 'failsafe')).toBe('2\n');

    const restart = await pair('start', '--dir', dir);
    expect(restart.code).toBe(1);
    expect(restart.stderr).toMatch(/was promoted: the old primary's data is stale/);
    await ok('stop', '--dir', dir, '--remove');
    expect(await processesMentioning(dir)).toEqual([]);
  }, 120_000);

  it('stops the servers of a start interrupted before it wrote pair.json', async () => {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const orphan = await startPostgres({ under: dir });
    expect(await orphan.psql('SELECT 1')).toBe('1\n');
    const stopped = await ok('stop', '--dir', dir, '--remove');
    expect(stopped).toMatch(/^stopped and removed the pair/);
    expect(await processesMentioning(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  }, 60_000);
});
