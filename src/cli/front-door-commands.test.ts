import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFrontDoor, type FrontDoor, type Person } from '../http/front-door.fixture.js';

const bin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));

// Each test spawns the CLI several times; from the sources that takes seconds each on a busy machine.
describe('the CLI as a client of the front door', { timeout: 120_000 }, () => {
  let door: FrontDoor;
  let home: string;
  const credentials = () => join(home, 'failsafe', 'credentials.json');

  /** The real CLI in a child process (asynchronously: the server answers from this process). */
  const failsafe = (args: string[], options: { as?: Person; input?: string; env?: NodeJS.ProcessEnv } = {}) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const base = { XDG_CONFIG_HOME: home, FAILSAFE_URL: door.url, FAILSAFE_TOKEN: '' };
      const env: NodeJS.ProcessEnv = { ...process.env, ...base, ...options.env };
      if (options.as) env.FAILSAFE_TOKEN = door.tokens[options.as];
      const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdin.end(options.input ?? '');
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });

  beforeAll(async () => {
    door = await startFrontDoor(['orders', 'payments', 'search', 'catalog']);
    home = mkdtempSync(join(tmpdir(), 'failsafe-cli-home-'));
  });
  afterAll(async () => {
    await door.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('refuses an approval from a viewer or an operator token; an approver token approves', async () => {
    const requested = await failsafe(['rollback', 'orders', '--reason', 'customer reports'], { as: 'alice' });
    const rollbackId = /rollback (rb-\S+) of orders requested by alice/.exec(requested.stdout)?.[1];
    expect(rollbackId, requested.stderr).toBeDefined();
    const viewer = await failsafe(['approve', 'orders', rollbackId!, '--no-wait'], { as: 'vera' });
    expect(viewer.code).toBe(1);
    expect(viewer.stderr).toMatch(/^failsafe: Forbidden: vera \(role viewer\) may not approve; .*role approver/);
    const operator = await failsafe(['approve', 'orders', rollbackId!, '--no-wait'], { as: 'alice' });
    expect(operator.stderr).toMatch(/Forbidden: alice \(role operator\) may not approve/);
    const status = JSON.parse((await failsafe(['status', 'orders', '--json'], { as: 'vera' })).stdout);
    expect(status.service.rollback).toMatchObject({ id: rollbackId, status: 'awaiting_approval' });
    const approved = await failsafe(['approve', 'orders', rollbackId!, '--no-wait'], { as: 'bob' });
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(new RegExp(`rollback ${rollbackId} approved by bob`));
  });

  it('asks for a scale, and refuses a count that is not one', async () => {
    const scaled = await failsafe(['scale', 'catalog', '3', '--no-wait', '--reason', 'peak'], { as: 'alice' });
    expect(scaled.code, scaled.stderr).toBe(0);
    expect(scaled.stdout).toMatch(/scaling s-\S+: catalog → 3 instances requested/);
    const bad = await failsafe(['scale', 'catalog', 'lots', '--no-wait'], { as: 'alice' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/replicas: /);
  });

  it('refuses an approval by the identity that requested the rollback', async () => {
    const requested = await failsafe(['rollback', 'payments'], { as: 'admin' });
    const rollbackId = /rollback (rb-\S+) of payments requested by admin/.exec(requested.stdout)?.[1];
    expect(rollbackId, requested.stderr).toBeDefined();
    const self = await failsafe(['approve', 'payments', rollbackId!, '--no-wait'], { as: 'admin' });
    expect(self.code).toBe(1);
    expect(self.stderr).toMatch(/InvariantViolated \(second-identity-approval\)/);
  });

  it('records the token holder as the actor, and refuses a viewer that acts', async () => {
    const deployed = await failsafe(['deploy', 'search', 'v1.0.0', '--no-wait', '--reason', 'back'], { as: 'alice' });
    expect(deployed.code, deployed.stderr).toBe(0);
    const deploymentId = /deployment (d-\S+): search → v1.0.0 requested/.exec(deployed.stdout)?.[1];
    const history = await failsafe(['call', 'deployment_history', 'service=search', 'limit:=1'], { as: 'vera' });
    const { deployments } = JSON.parse(history.stdout);
    expect(deployments).toEqual([expect.objectContaining({ deploymentId, requestedBy: 'alice' })]);
    const viewer = await failsafe(['tool', 'disable', 'search', 'lookup'], { as: 'vera' });
    expect(viewer.stderr).toMatch(/Forbidden: vera \(role viewer\) may not operate/);
    const disabled = await failsafe(['tool', 'disable', 'search', 'lookup'], { as: 'alice' });
    expect(disabled.stdout).toMatch(/search: tool lookup disabled/);
  });

  it('registers a service, shows and cancels a waiting deployment, and switches each rollback level', async () => {
    const typo = await failsafe(['deploy', 'inventroy', 'v1.0.0', '--no-wait'], { as: 'alice' });
    expect(typo.stderr).toMatch(/no service "inventroy" is registered/);
    expect((await failsafe(['register', 'inventory'], { as: 'alice' })).stdout).toMatch(/inventory: registered/);
    const deployed = await failsafe(['deploy', 'inventory', 'v1.0.0', '--no-wait'], { as: 'alice' });
    const deploymentId = /deployment (d-[0-9a-f]+)/.exec(deployed.stdout)?.[1];
    expect(deploymentId, deployed.stderr).toBeDefined();
    const waiting = await failsafe(['status', 'inventory'], { as: 'vera' });
    expect(waiting.stdout).toMatch(
      new RegExp(`waiting since \\S+: deployment ${deploymentId} to v1.0.0, for an executor`),
    );
    const cancelled = await failsafe(['cancel', 'inventory', deploymentId!, '--reason', 'wrong release'], {
      as: 'alice',
    });
    expect(cancelled.stdout, cancelled.stderr).toMatch(`deployment ${deploymentId} of inventory cancelled`);
    expect((await failsafe(['status', 'inventory'], { as: 'vera' })).stdout).not.toMatch(/waiting since/);
    const agent = await failsafe(['agent', 'disable', 'inventory', 'claude-desktop', '--reason', 'loops'], {
      as: 'alice',
    });
    expect(agent.stdout, agent.stderr).toMatch(/inventory: agent claude-desktop disabled/);
    const legacy = await failsafe(['legacy-mode', 'enter', '--fleet'], { as: 'alice' });
    expect(legacy.stdout, legacy.stderr).toMatch(/inventory: legacy mode on/);
    expect((await failsafe(['legacy-mode', 'enter'], { as: 'alice' })).stderr).toMatch(
      /name one service, or give --fleet/,
    );
    const shown = await failsafe(['status', 'inventory'], { as: 'vera' });
    expect(shown.stdout).toMatch(/agent claude-desktop disabled by alice at \S+ \(loops\)/);
    expect(shown.stdout).toMatch(/legacy mode by alice at /);
    expect((await failsafe(['legacy-mode', 'leave', 'inventory'], { as: 'alice' })).stdout).toMatch(/legacy mode off/);
  });

  it('shows a rollback awaiting approval as waiting; an approver rejects it, an operator may not', async () => {
    const requested = await failsafe(['rollback', 'catalog', '--reason', 'slow answers'], { as: 'alice' });
    const rollbackId = /rollback (rb-\S+) of catalog requested/.exec(requested.stdout)?.[1];
    expect(rollbackId, requested.stderr).toBeDefined();
    const waiting = (await failsafe(['status', 'catalog'], { as: 'vera' })).stdout;
    expect(waiting).toMatch(new RegExp(`waiting since .*: rollback ${rollbackId} to .*, for an approval`));
    const operator = await failsafe(['reject', 'catalog', rollbackId!, '--reason', 'no'], { as: 'alice' });
    expect(operator.stderr).toMatch(/Forbidden: alice \(role operator\) may not approve/);
    const rejected = await failsafe(['reject', 'catalog', rollbackId!, '--reason', 'false alarm'], { as: 'bob' });
    expect(rejected.stdout, rejected.stderr).toMatch(`rollback ${rollbackId} of catalog rejected`);
    const after = JSON.parse((await failsafe(['status', 'catalog', '--json'], { as: 'vera' })).stdout);
    expect(after.service.rollback).toMatchObject({ id: rollbackId, status: 'rejected' });
    expect(after.service.waiting).toBeUndefined();
    expect(after.recentEvents.at(-1)).toMatchObject({
      type: 'RollbackRejected',
      data: { rejectedBy: 'bob', reason: 'false alarm' },
    });
  });

  it('asks the server for a drill run and follows it until its wait is over', async () => {
    const asked = await failsafe(['drill', 'run', 'high-error-rate', '--via-server', '--wait', '1'], { as: 'alice' });
    const runId = /drill run (run-\S+) of high-error-rate requested/.exec(asked.stdout)?.[1];
    expect(runId, asked.stderr).toBeDefined();
    expect(asked.code).toBe(1);
    expect(asked.stderr).toMatch(/TimedOut: run run-\S+ did not finish within 1 s/);
    const { runs } = JSON.parse((await failsafe(['call', 'list_drill_runs'], { as: 'vera' })).stdout);
    expect(runs).toContainEqual(expect.objectContaining({ runId, drill: 'high-error-rate', requestedBy: 'alice' }));
  });

  it('says what to do without a token, with a wrong one, with bad input, and when nothing answers', async () => {
    const none = await failsafe(['services']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/NotLoggedIn: no token for http:\/\/127\.0\.0\.1:\d+; run `failsafe login` or set /);
    const wrong = await failsafe(['services'], { env: { FAILSAFE_TOKEN: 'fs_not-a-token' } });
    expect(wrong.stderr).toMatch(/Unauthorized: .*; run `failsafe login` or set FAILSAFE_TOKEN/);
    const bad = await failsafe(['call', 'service_status', 'service=orders', 'events:=1000'], { as: 'vera' });
    expect(bad.stderr).toMatch(/InvalidInput: service_status: events: /);
    const down = await failsafe(['services', '--url', 'http://127.0.0.1:9'], { as: 'vera' });
    expect(down.stderr).toMatch(/ServerUnreachable: .*is `failsafe serve` running at http:\/\/127\.0\.0\.1:9\?/);
  });

  it('logs in after checking the token, keeps it readable by the user only, uses it, and logs out', async () => {
    const noServerEnv = { FAILSAFE_URL: '' };
    const refused = await failsafe(['login'], { input: `${door.url}\nfs_wrong\n`, env: noServerEnv });
    expect(refused.code).toBe(1);
    expect(existsSync(credentials())).toBe(false);

    const login = await failsafe(['login'], { input: `${door.url}/\n${door.tokens.vera}\n`, env: noServerEnv });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).not.toContain(door.tokens.vera);
    expect(statSync(credentials()).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(credentials(), 'utf8'))).toEqual({ url: door.url, token: door.tokens.vera });

    const services = await failsafe(['services'], { env: noServerEnv });
    expect(services.stdout).toMatch(/^orders {2}v1\.\d\.0/m);
    const elsewhere = await failsafe(['services', '--url', 'http://127.0.0.1:9']);
    expect(elsewhere.stderr).toMatch(/NotLoggedIn: no token for http:\/\/127\.0\.0\.1:9 \(the saved credentials are /);

    expect((await failsafe(['logout'])).stdout).toMatch(/removed .*credentials\.json/);
    expect(existsSync(credentials())).toBe(false);
    expect((await failsafe(['services'], { env: noServerEnv })).stderr).toMatch(/NotLoggedIn/);
  });
});
