import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('bin/failsafe.js', () => {
  let dir: string;
  const put = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  const run = (env: NodeJS.ProcessEnv = {}) => {
    const launcher = join(dir, 'bin', 'failsafe.js');
    const r = spawnSync(process.execPath, [launcher], {
      encoding: 'utf8',
      env: { ...process.env, FAILSAFE_FROM_SOURCE: '', ...env },
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  beforeEach(() => {
    // A copy of the launcher beside stand-ins for the build and the sources.
    dir = mkdtempSync(join(tmpdir(), 'failsafe-bin-'));
    mkdirSync(join(dir, 'bin'));
    copyFileSync(join(root, 'bin', 'failsafe.js'), join(dir, 'bin', 'failsafe.js'));
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    put('package.json', '{ "type": "module" }');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the build in dist/ when there is one, and the sources when FAILSAFE_FROM_SOURCE=1', () => {
    put('dist/src/cli/main.js', "console.log('compiled');");
    put('src/cli/main.ts', "const from: string = 'sources';\nconsole.log(from);");
    expect(run().stdout).toBe('compiled\n');
    expect(run({ FAILSAFE_FROM_SOURCE: '1' }).stdout).toBe('sources\n');
  });

  it('runs the sources through tsx in a checkout without a build', () => {
    put('src/cli/main.ts', "const from: string = 'sources';\nconsole.log(from);");
    expect(run().stdout).toBe('sources\n');
  });

  it('says how to build when there is neither', () => {
    const result = run();
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/not built: run `npm run build`/);
  });

  // In CI `npm ci` has built dist/ (prepare); elsewhere only when someone ran `npm run build`.
  const built = join(root, 'dist', 'src', 'cli', 'main.js');
  it.skipIf(!process.env.CI && !existsSync(built))('the build in dist/ finds package.json and runs', () => {
    const r = spawnSync(process.execPath, [built, '--version'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
