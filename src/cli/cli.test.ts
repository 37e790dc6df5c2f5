import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));

const failsafe = (args: string[], input?: string) => {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', input, timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
};

describe('failsafe CLI', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'failsafe-cli-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it.each([[[]], [['serve']], [['events']], [['events', 'append']], [['events', 'read']], [['events', 'tail']]])(
    'prints help for %j',
    (command) => {
      const { code, stdout } = failsafe([...command, '--help']);
      expect(code).toBe(0);
      expect(stdout).toContain(`Usage: failsafe${command.length ? ` ${command.join(' ')}` : ''}`);
    },
  );

  it('appends a valid event, reads it back and tails it as JSON', () => {
    const data = JSON.stringify({ deploymentId: 'd-1', service: 'payments', release: 'v2' });
    const appended = failsafe([
      'events',
      'append',
      'deployment-payments',
      'DeploymentRequested',
      data,
      '--data-dir',
      dataDir,
      '--json',
      '--expected-revision',
      'no_stream',
    ]);
    expect(appended.stderr).toBe('');
    expect(JSON.parse(appended.stdout)).toMatchObject({ stream: 'deployment-payments', revision: '0', position: '1' });

    const read = failsafe(['events', 'read', 'deployment-payments', '--data-dir', dataDir]);
    expect(read.stdout).toMatch(/^1\tdeployment-payments@0\t\S+\tDeploymentRequested\t\{.*"release":"v2"/);

    const tail = failsafe(['events', 'tail', '--from-start', '--count', '1', '--json', '--data-dir', dataDir]);
    expect(JSON.parse(tail.stdout)).toMatchObject({
      type: 'DeploymentRequested',
      data: { service: 'payments' },
      metadata: { schemaVersion: 1 },
    });
  });

  it('reads event data from standard input', () => {
    const data = JSON.stringify({ deploymentId: 'd-1', service: 'payments', release: 'v2' });
    const appended = failsafe(
      ['events', 'append', 'deployment-payments', 'DeploymentStarted', '-', '--data-dir', dataDir],
      data,
    );
    expect(appended.code).toBe(0);
    expect(appended.stdout).toMatch(/appended DeploymentStarted \S+ to deployment-payments at revision 0/);
  });

  it('refuses invalid event data naming the field, and writes nothing', () => {
    const bad = failsafe([
      'events',
      'append',
      'deployment-payments',
      'DeploymentRequested',
      '{"service":"payments","release":42}',
      '--data-dir',
      dataDir,
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^failsafe: InvalidEvent: .*data\.release/);
    const unknown = failsafe(['events', 'append', 's', 'NoSuchEvent', '{}', '--data-dir', dataDir]);
    expect(unknown.stderr).toMatch(/type: .*DeploymentRequested/);
    const notJson = failsafe(['events', 'append', 's', 'DeploymentRequested', '{oops', '--data-dir', dataDir]);
    expect(notJson.stderr).toMatch(/data: is not valid JSON/);
    const good = JSON.stringify({ deploymentId: 'd-1', service: 'payments', release: 'v2' });
    const first = failsafe([
      'events',
      'append',
      'deployment-payments',
      'DeploymentRequested',
      good,
      '--data-dir',
      dataDir,
      '--json',
    ]);
    expect(JSON.parse(first.stdout)).toMatchObject({ revision: '0', position: '1' });
  });

  it('reports a wrong expected revision with expected and actual', () => {
    const data = JSON.stringify({ deploymentId: 'd-1', service: 'payments', release: 'v2' });
    failsafe(['events', 'append', 'deployment-payments', 'DeploymentRequested', data, '--data-dir', dataDir]);
    const stale = failsafe([
      'events',
      'append',
      'deployment-payments',
      'DeploymentRequested',
      data,
      '--data-dir',
      dataDir,
      '--expected-revision',
      'no_stream',
    ]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(
      /WrongExpectedRevision: stream "deployment-payments" expected no_stream but is at revision 0/,
    );
  });

  it('refuses a bad option value with a usage error', () => {
    const bad = failsafe(['events', 'read', 'x', '--limit', 'ten', '--data-dir', dataDir]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--limit.*must be a positive whole number/);
  });

  /** `failsafe serve` on a free port; resolves once it says where it listens. */
  async function serve() {
    const server = spawn(process.execPath, [bin, 'serve', '--port', '0', '--data-dir', dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FAILSAFE_ADMIN_TOKEN: '' },
    });
    let stdout = '';
    server.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line: ${stdout}`)), 20_000);
      server.stdout.on('data', () => {
        const match = /listening on (http:\/\/\S+)/.exec(stdout);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
    });
    const exit = new Promise<number | null>((resolve) => server.once('exit', resolve));
    return { url, output: () => stdout, stop: () => (server.kill('SIGTERM'), exit) };
  }

  it('serves /health from the embedded store and stops cleanly on SIGTERM, ending live tails', async () => {
    const server = await serve();
    const response = await fetch(`${server.url}/health`);
    expect(response.status).toBe(200);
    // The first recorded clock tick is already in the store.
    expect(await response.json()).toEqual({ status: 'ok', store: { engine: 'sqlite', headPosition: '1' } });
    // The first start shows an admin token, on a line after the listening one (maybe in a later chunk).
    const shown = /^ {4}(fs_\S+)$/m;
    await vi.waitFor(() => expect(server.output(), 'the first start shows an admin token').toMatch(shown));
    const token = shown.exec(server.output())![1]!;
    const tail = await fetch(`${server.url}/api/v1/events/live`, { headers: { Authorization: `Bearer ${token}` } });
    expect(tail.status).toBe(200);
    const ended = tail.text();
    expect(await server.stop()).toBe(0);
    expect(server.output()).toContain('SIGTERM: shutting down');
    await expect(ended).resolves.toBeTypeOf('string');

    const again = await serve();
    expect(again.output()).not.toMatch(/fs_/);
    expect(
      (await fetch(`${again.url}/api/v1/services`, { headers: { Authorization: `Bearer ${token}` } })).status,
    ).toBe(200);
    expect(await again.stop()).toBe(0);
  });

  it('refuses to start with an invalid policy file, listing every problem by line', () => {
    const policy = join(dataDir, 'policy.yaml');
    writeFileSync(
      policy,
      'version: 1\nrules:\n  slow:\n    when: latency\n    threshold: -1\n    action: automatic_rollback\n',
    );
    const result = failsafe(['serve', '--port', '0', '--data-dir', dataDir, '--policy', policy]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/InvalidPolicyFile: .*policy.yaml has 2 problem/);
    expect(result.stderr).toMatch(/line 4: rules.slow.when/);
    expect(result.stderr).toMatch(/line 5: rules.slow.threshold/);
  });

  it('refuses to serve from a corrupt store, leaving it in place', () => {
    writeFileSync(join(dataDir, 'failsafe.db'), 'not a database at all');
    const result = failsafe(['serve', '--port', '0', '--data-dir', dataDir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/StoreCorrupt: .*failsafe\.db is damaged/);
  });
});
