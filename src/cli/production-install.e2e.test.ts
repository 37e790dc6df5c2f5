import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The repository's files as a clean clone would have them (tracked, plus new ones not ignored). */
function copyRepository(to: string): void {
  const args = ['ls-files', '-z', '--cached', '--others', '--exclude-standard'];
  const listed = execFileSync('git', args, { cwd: root, encoding: 'utf8' });
  for (const file of listed.split('\0')) {
    // Regular files only: a node_modules symlink (a worktree's) must never reach `npm ci`, which empties it.
    const regular = lstatSync(join(root, file), { throwIfNoEntry: false })?.isFile();
    if (!regular || file.split('/')[0] === 'node_modules') continue;
    mkdirSync(dirname(join(to, file)), { recursive: true });
    cpSync(join(root, file), join(to, file));
  }
}

const packageJson = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
    devDependencies: Record<string, string>;
  };

/** Starts `serve` on a free port and resolves with its URL once it listens. */
function startServe(dir: string, bin: string): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const args = [bin, 'serve', '--port', '0', '--data-dir', join(dir, 'data')];
    const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve({ child, url });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${output}`));
    });
  });
}

// A real install: better-sqlite3 compiles from source here, so this takes minutes, not seconds.
describe('a production install (npm ci --omit=dev)', { timeout: 900_000 }, () => {
  let dir: string;
  let serve: { child: ChildProcess; url: string } | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-prod-'));
    copyRepository(dir);
    if (existsSync(join(dir, 'node_modules'))) throw new Error(`${dir}/node_modules exists: npm ci would empty it`);
    execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'pipe', timeout: 840_000 });
  }, 900_000);

  afterAll(async () => {
    if (serve && serve.child.exitCode === null) {
      const exited = new Promise((resolve) => serve!.child.once('exit', resolve));
      serve.child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves the dev dependencies out', () => {
    const { devDependencies } = packageJson(dir);
    // A dev dependency a production one needs too (the KurrentDB client ships @types/node) is not dev-only.
    const { packages } = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.keys(devDependencies).filter((name) => packages[`node_modules/${name}`]?.dev);
    expect(devOnly).toContain('vitest');
    for (const name of devOnly) expect(existsSync(join(dir, 'node_modules', name)), name).toBe(false);
  });

  it('starts serve, which answers /health', async () => {
    serve = await startServe(dir, join(dir, packageJson(dir).bin.failsafe!));
    const response = await fetch(`${serve.url}/health`);
    expect(response.status).toBe(200);
  });
});
