import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTraffic, type Traffic } from '../../drills/sample-fleet/traffic.js';
import { collect } from '../event-store/event-store.contract.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';

const bin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));
const releasesDir = fileURLToPath(new URL('../../drills/sample-fleet/releases/', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('operating a real fleet through failsafe serve and the CLI', () => {
  let dataDir: string;
  let fleetFile: string;
  let serve: { child: ChildProcess; output: () => string; address: string } | undefined;
  let traffic: Traffic | undefined;

  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [bin, ...args, '--data-dir', dataDir], { encoding: 'utf8', timeout: 90_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  const startServe = () =>
    new Promise<NonNullable<typeof serve>>((resolve, reject) => {
      const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--data-dir', dataDir, '--fleet', fleetFile, '--tick-seconds', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${output}`)), 30_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const address = /fleet: sample answers on (http:\/\/\S+)/.exec(output)?.[1];
        if (address && output.includes('listening on')) {
          clearTimeout(timer);
          resolve({ child, output: () => output, address });
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
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
      if (Date.now() > deadline) throw new Error(`no ${type}; so far: ${all.map((e) => e.type).join(', ')}\n${serve?.output()}`);
      await sleep(100);
    }
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'failsafe-fleet-cli-'));
    fleetFile = join(dataDir, 'fleet.yaml');
    writeFileSync(fleetFile, `services:\n  sample:\n    driver: process\n    releasesDir: ${releasesDir}\n    port: 0\n    probeTool: time\nprobe:\n  intervalSeconds: 1\n`);
    serve = await startServe();
  }, 60_000);

  afterAll(async () => {
    await traffic?.stop();
    if (serve && serve.child.exitCode === null) {
      const exited = new Promise((r) => serve!.child.once('exit', r));
      serve.child.kill('SIGTERM');
      await exited;
    }
    // The fleet outlives Failsafe by design (the next one adopts it): stop it for good here.
    const pids = join(dataDir, 'fleet', 'pids');
    for (const pid of existsSync(pids) ? readdirSync(pids) : []) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('deploys with progress, lists services, and reports a failed deployment', () => {
    const deployed = cli('deploy', 'sample', 'v1.0.0');
    expect(deployed.code, deployed.stderr + serve!.output()).toBe(0);
    expect(deployed.stdout).toMatch(/DeploymentStarted[\s\S]*DeploymentHealthy[\s\S]*sample runs v1.0.0/);
    const crashed = cli('deploy', 'sample', 'v2.0.0-crash');
    expect(crashed.code).toBe(1);
    expect(crashed.stdout).toMatch(/DeploymentFailed.*ReleaseNotReady[\s\S]*stays on its previous release/);
    expect(cli('services').stdout).toMatch(/^sample {2}v2.0.0-crash/m);
    expect(cli('status', 'sample').stdout).toMatch(/sample: failed/);
    expect(cli('deploy', 'sample', 'v1.0.0', '--wait', '5').stdout).toMatch(/DeploymentHealthy/);
  }, 120_000);

  it('completes a rollback that a killed Failsafe left in progress once it comes back', async () => {
    expect(cli('deploy', 'sample', 'v2.0.0-errors').code).toBe(0);
    const address = serve!.address;
    traffic = startTraffic(() => address);
    await waitForEvent('RollbackStarted');
    serve!.child.kill('SIGKILL');
    await new Promise((r) => serve!.child.once('exit', r));
    serve = await startServe();
    const story = await waitForEvent('RollbackVerified');
    const types = story.map((e) => e.type);
    expect(types.filter((t) => t === 'RollbackDecided')).toHaveLength(1);
    expect(types.filter((t) => t === 'RollbackCompleted')).toHaveLength(1);
    expect(story.find((e) => e.type === 'RollbackCompleted')!.data).toMatchObject({ release: 'v1.0.0' });
    const status = cli('status', 'sample');
    expect(status.stdout).toMatch(/release v1.0.0/);
  }, 120_000);

  it('takes a manual rollback only with a second identity, then carries it out', async () => {
    await traffic?.stop();
    expect(cli('deploy', 'sample', 'v1.1.0').code).toBe(0);
    const requested = cli('rollback', 'sample', '--to', 'v1.0.0', '--reason', 'customer reports');
    const rollbackId = /rollback (rb-\S+) of sample requested/.exec(requested.stdout)?.[1];
    expect(rollbackId, requested.stdout + requested.stderr).toBeDefined();
    const self = cli('approve', 'sample', rollbackId!);
    expect(self.code).toBe(1);
    expect(self.stderr).toMatch(/InvariantViolated \(second-identity-approval\)/);
    const approved = cli('approve', 'sample', rollbackId!, '--as', 'bob');
    expect(approved.code, approved.stdout + approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(/RollbackStarted[\s\S]*RollbackCompleted[\s\S]*RollbackVerified/);
    expect(cli('status', 'sample').stdout).toMatch(/release v1.0.0/);
  }, 120_000);
});
