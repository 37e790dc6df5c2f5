import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTraffic, type Traffic } from '../../drills/sample-fleet/traffic.js';
import { collect } from '../event-store/event-store.contract.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { hashToken, newToken } from '../auth/tokens.js';
import { type ServeProcess, startServeProcess, stopFleet, writeSampleFleet } from '../testing/serve-process.js';
const tokens = { admin: newToken(), alice: newToken(), bob: newToken() };

describe('operating a real fleet through failsafe serve and the CLI', () => {
  let dataDir: string;
  let fleetFile: string;
  let configFile: string;
  let serve: ServeProcess | undefined;
  let traffic: Traffic | undefined;

  const cliAs = (person: keyof typeof tokens, ...args: string[]) => serve!.cli(tokens[person], ...args);
  const cli = (...args: string[]) => cliAs('alice', ...args);

  // A short execution lease: a Failsafe started after a SIGKILL takes over its predecessor's rollback soon.
  const startServe = () =>
    startServeProcess({
      dataDir,
      args: ['--fleet', fleetFile, '--tick-seconds', '1', '--config', configFile],
      env: { FAILSAFE_ADMIN_TOKEN: tokens.admin, FAILSAFE_EXECUTION_LEASE_SECONDS: '5' },
      services: ['sample'],
    });

  const events = async () => {
    const store = SqliteEventStore.open({ path: join(dataDir, 'failsafe.db') });
    try {
      return await collect(store.readStream('service-sample'));
    } finally {
      await store.close();
    }
  };
  const waitForEvent = async (type: string, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const all = await events();
      if (all.some((e) => e.type === type)) return all;
      if (Date.now() > deadline)
        throw new Error(`no ${type}; so far: ${all.map((e) => e.type).join(', ')}\n${serve?.output()}`);
      await sleep(100);
    }
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'failsafe-fleet-cli-'));
    fleetFile = writeSampleFleet(join(dataDir, 'fleet.yaml'));
    configFile = join(dataDir, 'failsafe.yaml');
    const entry = (name: 'alice' | 'bob', role: string) =>
      `    - { name: ${name}, role: ${role}, sha256: ${hashToken(tokens[name])} }\n`;
    writeFileSync(configFile, `auth:\n  tokens:\n${entry('alice', 'operator')}${entry('bob', 'approver')}`);
    serve = await startServe();
  }, 60_000);

  afterAll(async () => {
    await traffic?.stop();
    await serve?.stop();
    stopFleet(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('deploys with progress, lists services, and reports a failed deployment', async () => {
    const deployed = cli('deploy', 'sample', 'v1.0.0');
    expect(deployed.code, deployed.stderr + serve!.output()).toBe(0);
    expect(deployed.stdout).toMatch(/DeploymentStarted[\s\S]*DeploymentHealthy[\s\S]*sample runs v1.0.0/);
    const crashed = cli('deploy', 'sample', 'v2.0.0-crash');
    expect(crashed.code).toBe(1);
    expect(crashed.stdout).toMatch(/DeploymentFailed.*ReleaseNotReady[\s\S]*stays on its previous release/);
    // The recorded state names the release that really serves: the crashed one never took traffic.
    expect(cli('services').stdout).toMatch(/^sample {2}v1.0.0/m);
    expect(cli('status', 'sample').stdout).toMatch(/sample: failed\n {2}release v1.0.0/);
    const serving = (await (await fetch(`${serve!.fleet.sample!}/health`)).json()) as { release: string };
    expect(serving.release).toBe('v1.0.0');
    const again = cli('deploy', 'sample', 'v1.0.0', '--wait', '5');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/release-already-running/);
  }, 120_000);

  it('refuses a deployment for a service the fleet file does not name, writing nothing', async () => {
    const before = await events();
    const typo = cli('deploy', 'sampel', 'v1.0.0', '--no-wait');
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/NotFound: no service "sampel" is registered/);
    expect(cli('services').stdout).not.toMatch(/sampel/);
    expect(await events()).toEqual(before);
    expect(before[0]).toMatchObject({ type: 'ServiceRegistered', data: { service: 'sample', source: 'fleet' } });
  });

  it('completes a rollback that a killed Failsafe left in progress once it comes back', async () => {
    expect(cli('deploy', 'sample', 'v2.0.0-errors').code).toBe(0);
    const address = serve!.fleet.sample!;
    traffic = startTraffic(() => address);
    await waitForEvent('RollbackStarted');
    serve!.child.kill('SIGKILL');
    await serve!.stop();
    serve = await startServe();
    const story = await waitForEvent('RollbackVerified');
    const types = story.map((e) => e.type);
    expect(types.filter((t) => t === 'RollbackDecided')).toHaveLength(1);
    // serve registers its fleet's services at every start, writing them once.
    expect(types.filter((t) => t === 'ServiceRegistered')).toHaveLength(1);
    expect(types.filter((t) => t === 'RollbackCompleted')).toHaveLength(1);
    expect(story.find((e) => e.type === 'RollbackCompleted')!.data).toMatchObject({ release: 'v1.0.0' });
    const status = cli('status', 'sample');
    expect(status.stdout).toMatch(/release v1.0.0/);
  }, 120_000);

  it("takes a manual rollback only with an approver's token, then follows it to its verification", async () => {
    await traffic?.stop();
    expect(cli('deploy', 'sample', 'v1.1.0').code).toBe(0);
    const requested = cli('rollback', 'sample', '--to', 'v1.0.0', '--reason', 'customer reports');
    const rollbackId = /rollback (rb-\S+) of sample requested by alice/.exec(requested.stdout)?.[1];
    expect(rollbackId, requested.stdout + requested.stderr).toBeDefined();
    const self = cli('approve', 'sample', rollbackId!);
    expect(self.code).toBe(1);
    expect(self.stderr).toMatch(/Forbidden: alice \(role operator\) may not approve/);
    expect(cliAs('bob', 'approve', 'sample', rollbackId!, '--as', 'alice').stderr).toMatch(/unknown option '--as'/);
    const approved = cliAs('bob', 'approve', 'sample', rollbackId!);
    expect(approved.code, approved.stdout + approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(/approved by bob/);
    expect(approved.stdout).toMatch(/RollbackStarted[\s\S]*RollbackCompleted[\s\S]*RollbackVerified/);
    expect(cli('status', 'sample').stdout).toMatch(/release v1.0.0/);
  }, 120_000);
});
