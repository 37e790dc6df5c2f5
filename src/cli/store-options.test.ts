import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));

const failsafe = (args: string[], env: Record<string, string> = {}) => {
  const result = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, FAILSAFE_STORE: '', ...env },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
};

const DATA = JSON.stringify({ deploymentId: 'd-1', service: 'payments', release: 'v2' });

describe('the store named by URL on the command line', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-urls-cli-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('appends to and reads from the store --store or FAILSAFE_STORE names, not the data folder', () => {
    const url = `sqlite:${join(dir, 'elsewhere', 'events.db')}`;
    const dataDir = join(dir, 'data');
    const appended = failsafe(['events', 'append', 'deployment-payments', 'DeploymentRequested', DATA], {
      FAILSAFE_STORE: url,
      FAILSAFE_DATA_DIR: dataDir,
    });
    expect(appended.stderr).toBe('');
    expect(existsSync(join(dir, 'elsewhere', 'events.db'))).toBe(true);
    expect(existsSync(join(dataDir, 'failsafe.db'))).toBe(false);
    const read = failsafe(['events', 'read', 'deployment-payments', '--store', url, '--data-dir', dataDir]);
    expect(read.stdout).toMatch(/^1\tdeployment-payments@0\t\S+\tDeploymentRequested\t/);
    expect(failsafe(['events', 'read', 'deployment-payments', '--data-dir', dataDir]).stdout).toBe('');
  });

  it.each([
    [
      'a folder that cannot be made',
      () => `sqlite:${join(dir, 'a-file', 'events.db')}`,
      /^failsafe: StoreUnavailable: sqlite:.*a-file\/events\.db cannot be used \((EEXIST|ENOTDIR)/,
    ],
    [
      "another application's database",
      () => `sqlite:${join(dir, 'other.db')}`,
      /^failsafe: ForeignStore: .*other\.db is a SQLite database of another application/,
    ],
    ['a bad URL', () => 'events.db', /^failsafe: InvalidStoreUrl: "events.db" has no scheme; use sqlite:<path>/],
  ])('refuses %s at start: one line, exit 1', (_, url, message) => {
    writeFileSync(join(dir, 'a-file'), 'not a folder');
    const other = new Database(join(dir, 'other.db'));
    other.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY)');
    other.close();
    for (const command of [
      ['events', 'read', 'svc'],
      ['audit', 'verify'],
    ]) {
      const result = failsafe([...command, '--store', url()]);
      expect(result.code, command.join(' ')).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
  });

  it('refuses to serve from a store it cannot use, naming it, before listening', () => {
    writeFileSync(join(dir, 'a-file'), 'not a folder');
    const unwritable = failsafe(['serve', '--port', '0', '--data-dir', dir, '--store', `sqlite:${dir}/a-file/f.db`]);
    expect(unwritable.code).toBe(1);
    expect(unwritable.stderr).toMatch(/^failsafe: StoreUnavailable: sqlite:.*\/a-file\/f\.db cannot be used/);
    expect(unwritable.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(unwritable.stdout).not.toMatch(/listening/);
    const bad = failsafe(['serve', '--port', '0', '--data-dir', dir], {
      FAILSAFE_STORE: 'postgres://failsafe:s3cret@db:99999999/f',
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/FAILSAFE_STORE: InvalidStoreUrl: "postgres:\/\/failsafe:\*\*\*@db:99999999\/f"/);
    expect(bad.stderr).not.toContain('s3cret');
  });

  it('serves from the store it is given, says which, and keeps that store its own checkpoints', async () => {
    const path = join(dir, 'stores', 'events.db');
    const server = spawn(process.execPath, [bin, 'serve', '--port', '0', '--data-dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FAILSAFE_ADMIN_TOKEN: '', FAILSAFE_STORE: `sqlite:${path}` },
    });
    const exit = new Promise<number | null>((resolve) => server.once('exit', resolve));
    let stdout = '';
    server.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line: ${stdout}`)), 20_000);
        server.stdout.on('data', () => {
          const match = /listening on (http:\/\/\S+)/.exec(stdout);
          if (match) resolve(match[1]!);
          if (match) clearTimeout(timer);
        });
      });
      expect(stdout).toContain(`(event store: sqlite:${path},`);
      const health = await (await fetch(`${url}/health`)).json();
      expect(health).toEqual({ status: 'ok', store: { engine: 'sqlite', headPosition: '1' } });
      expect(existsSync(path)).toBe(true);
      expect(existsSync(join(dir, 'failsafe.db'))).toBe(false);
      expect(readdirSync(dir).filter((f) => /^checkpoints.*\.db$/.test(f))).toEqual([
        expect.stringMatching(/^checkpoints-[0-9a-f]{12}\.db$/),
      ]);
    } finally {
      server.kill('SIGTERM');
    }
    expect(await exit).toBe(0);
  });
});
