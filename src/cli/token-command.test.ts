import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));
const failsafe = (args: string[]) => {
  const result = spawnSync(process.execPath, [bin, 'token', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
};

describe('failsafe token', () => {
  it('makes a token with an expiry, and refuses the admin name or a name that is not an identifier', () => {
    const made = failsafe(['new', '--name', 'eve', '--role', 'viewer', '--expires-in', '2h']);
    expect(made.code).toBe(0);
    const expiresAt = /expiresAt: "([^"]+)"/.exec(made.stdout)?.[1];
    expect(Date.parse(expiresAt!) - Date.now()).toBeGreaterThan(7_000_000);
    expect(made.stdout).toMatch(/give it to eve; expires at /);
    expect(
      failsafe(['new', '--name', 'eve', '--role', 'viewer', '--expires-at', '2027-01-01T00:00:00Z']).stdout,
    ).toContain('expiresAt: "2027-01-01T00:00:00Z"');
    expect(failsafe(['new', '--name', 'admin', '--role', 'viewer']).stderr).toMatch(
      /"admin" is the built-in admin's name; name the token's holder/,
    );
    expect(failsafe(['new', '--name', '../x', '--role', 'viewer']).stderr).toMatch(/must be letters, digits/);
    expect(failsafe(['new', '--name', 'eve', '--role', 'viewer', '--expires-in', 'soon']).stderr).toMatch(
      /a duration such as 90m/,
    );
  }, 120_000);

  it('lists the tokens of a config file with their expiry', () => {
    const dir = mkdtempSync(join(tmpdir(), 'failsafe-token-'));
    try {
      const config = join(dir, 'failsafe.yaml');
      const entry = (name: string, expiry: string) =>
        `    - { name: ${name}, role: viewer, sha256: ${'a'.repeat(64)}${expiry} }`;
      writeFileSync(
        config,
        [
          'auth:',
          '  tokens:',
          entry('old', ', expiresAt: "2020-01-01T00:00:00Z"'),
          entry('new', ', expiresAt: "2999-01-01T00:00:00Z"'),
          entry('forever', ''),
        ].join('\n'),
      );
      const listed = failsafe(['list', '--config', config]);
      expect(listed.stdout).toMatch(/^old {2}viewer {2}EXPIRED at 2020-01-01T00:00:00Z$/m);
      expect(listed.stdout).toMatch(/^new {2}viewer {2}expires at 2999-01-01T00:00:00Z$/m);
      expect(listed.stdout).toMatch(/^forever {2}viewer {2}never expires$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
