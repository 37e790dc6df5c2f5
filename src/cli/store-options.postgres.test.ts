import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresBinDir } from '../testing/postgres-server.js';
import { postgresForTests } from '../testing/test-servers.js';

if (!(await postgresBinDir()) && process.env.CI === 'true')
  throw new Error('PostgreSQL is missing: run scripts/provision.sh');
const server = await postgresForTests();
const dir = mkdtempSync(join(tmpdir(), 'failsafe-urls-pg-cli-'));
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

const bin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));
const failsafe = (...args: string[]) => {
  const result = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, FAILSAFE_STORE: '' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
};

describe('moving from the embedded store to PostgreSQL', () => {
  it('copies the SQLite history into PostgreSQL with the CLI, then serves and audits from PostgreSQL', async () => {
    const sqlite = `sqlite:${join(dir, 'failsafe.db')}`;
    const data = JSON.stringify({ deploymentId: 'd-1', service: 'payments', release: 'v2' });
    const appended = failsafe(
      'events',
      'append',
      'deployment-payments',
      'DeploymentRequested',
      data,
      '--store',
      sqlite,
    );
    expect(appended.stderr).toBe('');
    await server.psql('CREATE DATABASE failsafe');
    const postgres = server.url('failsafe');

    const copied = failsafe('store', 'copy', '--from', sqlite, '--to', postgres);
    expect(copied.stderr).toMatch(/store copy: 1 events copied .* 100\.0 %/);
    expect(copied.stdout).toMatch(/^copied 1 event in 1 stream to postgresql?:\/\//);
    expect(copied.code).toBe(0);
    const read = failsafe('events', 'read', 'deployment-payments', '--store', postgres);
    expect(read.stdout).toMatch(/^1\tdeployment-payments@0\t\S+\tDeploymentRequested\t/);
    expect(failsafe('audit', 'verify', '--store', postgres).code).toBe(0);

    const serve = spawn(process.execPath, [bin, 'serve', '--port', '0', '--data-dir', dir, '--store', postgres], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FAILSAFE_ADMIN_TOKEN: '', FAILSAFE_STORE: '' },
    });
    const exit = new Promise<number | null>((resolve) => serve.once('exit', resolve));
    let stdout = '';
    serve.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line: ${stdout}`)), 30_000);
        serve.stdout.on('data', () => {
          const match = /listening on (http:\/\/\S+)/.exec(stdout);
          if (!match) return;
          clearTimeout(timer);
          resolve(match[1]!);
        });
      });
      expect(stdout).toContain(`(event store: ${postgres},`);
      const health = (await (await fetch(`${url}/health`)).json()) as { store: { engine: string } };
      expect(health).toMatchObject({ status: 'ok', store: { engine: 'postgres' } });
    } finally {
      serve.kill('SIGTERM');
    }
    expect(await exit).toBe(0);
  });
});
