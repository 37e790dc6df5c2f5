import {
  existsSync,
  mkdtempSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { Agent, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initializeAs } from '../../drills/sample-fleet/traffic.js';
import { ProcessDriver } from './process-driver.js';
import { noFeatureFlags } from './target-driver.js';

const releasesDir = fileURLToPath(new URL('../../drills/sample-fleet/releases/', import.meta.url));
interface Health {
  readonly release: string;
  readonly tools: number;
  readonly mode: string;
}
/** A fresh connection per check, unless a keep-alive agent is given. */
const health = (base: string, agent: Agent | false = false) =>
  new Promise<Health>((resolve, reject) => {
    get(`${base}/health`, { agent }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });

describe('process driver (real processes)', () => {
  let stateDir: string;
  let driver: ProcessDriver;
  beforeEach(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'failsafe-driver-'));
    driver = await ProcessDriver.start({ services: { sample: { releasesDir, port: 0 } }, stateDir });
  });
  afterEach(async () => {
    await driver.stopAll();
    await driver.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('deploys, switches the stable address, keeps the replaced release warm until the next deployment', async () => {
    const [first] = await driver.deploy('sample', 'v1.0.0');
    expect(await health(driver.address('sample'))).toMatchObject({ release: 'v1.0.0', tools: 5 });
    const [second] = await driver.deploy('sample', 'v1.1.0');
    expect(await health(driver.address('sample'))).toMatchObject({ release: 'v1.1.0' });
    expect(await health(first!.url)).toMatchObject({ release: 'v1.0.0' });
    const [bad] = await driver.deploy('sample', 'v2.0.0-errors');
    await driver.close();
    await expect(health(first!.url)).rejects.toThrow();
    // A new supervisor adopts the standby too: the rollback to it is a switch, with no start.
    driver = await ProcessDriver.start({ services: { sample: { releasesDir, port: 0 } }, stateDir });
    expect(await driver.instances('sample')).toEqual([bad]);
    expect(await driver.rollback('sample', 'v1.1.0')).toEqual([second]);
    expect(await health(driver.address('sample'))).toMatchObject({ release: 'v1.1.0' });
    await driver.close();
    await expect(health(bad!.url)).rejects.toThrow();
    driver = await ProcessDriver.start({ services: { sample: { releasesDir, port: 0 } }, stateDir });
    expect(await driver.deploy('sample', 'v1.1.0')).toEqual([second]);
  }, 60_000);

  it('sends a keep-alive client to the new release at a deployment, and to the standby at a rollback', async () => {
    // One connection, opened before the switches and kept open, as pooled MCP clients keep theirs.
    const client = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    client.on('free', (socket) => sockets.add(socket));
    try {
      await driver.deploy('sample', 'v1.0.0');
      const address = driver.address('sample');
      expect(await health(address, client)).toMatchObject({ release: 'v1.0.0' });
      await driver.deploy('sample', 'v2.0.0-errors');
      expect(await health(address, client)).toMatchObject({ release: 'v2.0.0-errors' });
      await driver.rollback('sample', 'v1.0.0');
      expect(await health(address, client)).toMatchObject({ release: 'v1.0.0' });
      expect(sockets.size).toBe(1);
    } finally {
      client.destroy();
    }
  }, 60_000);

  it('stops the replaced release at once when the service keeps no warm standby', async () => {
    await driver.close();
    driver = await ProcessDriver.start({
      services: { sample: { releasesDir, port: 0, warmStandby: false } },
      stateDir,
    });
    const [first] = await driver.deploy('sample', 'v1.0.0');
    await driver.deploy('sample', 'v1.1.0');
    await driver.close();
    await expect(health(first!.url)).rejects.toThrow();
  }, 60_000);

  it('keeps the previous release serving when the new one never becomes ready', async () => {
    await driver.deploy('sample', 'v1.0.0');
    await expect(driver.deploy('sample', 'v2.0.0-crash')).rejects.toThrow(
      /ReleaseNotReady: sample v2.0.0-crash exited \(code 3\) before it was ready: .*crashes at start/,
    );
    expect(await health(driver.address('sample'))).toMatchObject({ release: 'v1.0.0' });
  }, 60_000);

  it('rolls back to a prior release from its snapshot; disables a tool by restarting (MCP_DISABLE_TOOLS)', async () => {
    await driver.close();
    driver = await ProcessDriver.start({
      services: { sample: { releasesDir, port: 0, warmStandby: false } },
      stateDir,
    });
    await driver.deploy('sample', 'v1.0.0');
    await driver.deploy('sample', 'v2.0.0-breaker');
    await driver.rollback('sample', 'v1.0.0');
    expect(await health(driver.address('sample'))).toMatchObject({ release: 'v1.0.0' });
    await driver.setFeatureFlags('sample', { ...noFeatureFlags, tools: ['refund'] });
    expect(await health(driver.address('sample'))).toMatchObject({ release: 'v1.0.0', tools: 4 });
  }, 60_000);

  it('rolls an agent back with MCP_DISABLE_AGENTS, and the service to legacy mode with MCP_LEGACY_MODE', async () => {
    await driver.deploy('sample', 'v1.0.0');
    await driver.setFeatureFlags('sample', { tools: [], agents: ['planner'], legacyMode: false });
    const address = driver.address('sample');
    const refused = await initializeAs(address, 'planner');
    expect(refused).toMatchObject({ status: 403, body: expect.stringMatching(/agent planner is rolled back/) });
    expect(await initializeAs(address, 'picker')).toMatchObject({ status: 200 });
    await driver.setFeatureFlags('sample', { tools: [], agents: [], legacyMode: true });
    // Only the tools served before the MCP migration: echo, add, time.
    expect(await health(address)).toMatchObject({ release: 'v1.0.0', mode: 'legacy', tools: 3 });
    expect(await initializeAs(address, 'planner')).toMatchObject({ status: 200 });
    await driver.setFeatureFlags('sample', noFeatureFlags);
    expect(await health(address)).toMatchObject({ mode: 'mcp', tools: 5 });
  }, 60_000);

  it('refuses an unknown release, a broken manifest and an unknown service with clear errors', async () => {
    await expect(driver.deploy('sample', 'v9.9.9')).rejects.toThrow(/ReleaseNotFound: sample has no release v9.9.9/);
    const broken = mkdtempSync(join(tmpdir(), 'failsafe-releases-'));
    mkdirSync(join(broken, 'bad'));
    writeFileSync(join(broken, 'bad', 'release.yaml'), 'release: bad\ncommand: []\nreadiness:\n  timeoutSeconds: -1\n');
    const other = await ProcessDriver.start({
      services: { broken: { releasesDir: broken, port: 0 } },
      stateDir: join(stateDir, 'other'),
    });
    await expect(other.deploy('broken', 'bad')).rejects.toThrow(
      /InvalidReleaseManifest: .*release.yaml has 2 problem.*line 2: command.*line 4: readiness.timeoutSeconds/s,
    );
    await other.close();
    rmSync(broken, { recursive: true, force: true });
    await expect(driver.deploy('nope', 'v1.0.0')).rejects.toThrow(
      /UnknownService: "nope" is not configured \(known: sample\)/,
    );
  }, 60_000);

  it('adopts the instance a previous supervisor left running', async () => {
    const [running] = await driver.deploy('sample', 'v1.0.0');
    await driver.close();
    driver = await ProcessDriver.start({ services: { sample: { releasesDir, port: 0 } }, stateDir });
    expect((await driver.instances('sample')).map((i) => i.url)).toEqual([running!.url]);
    expect(await health(driver.address('sample'))).toMatchObject({ release: 'v1.0.0' });
  }, 60_000);

  it('stops for good what a closed supervisor left running, never a pid now used by another program', async () => {
    const [running] = await driver.deploy('sample', 'v1.0.0');
    // A supervisor still running (here: this test runner's parent, alive and not this process) keeps its fleet.
    writeFileSync(join(stateDir, 'supervisor.pid'), `${process.ppid}\n`);
    await expect(ProcessDriver.stopAllRecorded(stateDir)).rejects.toThrow(
      /FleetStillSupervised: .*pid \d+\) still supervises/,
    );
    await expect(health(running!.url)).resolves.toMatchObject({ release: 'v1.0.0' });
    await driver.close();
    writeFileSync(join(stateDir, 'pids', String(process.pid)), 'some other program\n');
    expect(await ProcessDriver.stopAllRecorded(stateDir)).toBe(1);
    await expect(health(running!.url)).rejects.toThrow();
    expect(readdirSync(join(stateDir, 'pids'))).toEqual([]);
  }, 60_000);

  it('starts again, with its flags, the release that was serving when the fleet was stopped', async () => {
    await driver.deploy('sample', 'v1.0.0');
    await driver.setFeatureFlags('sample', { ...noFeatureFlags, tools: ['refund'] });
    await driver.close();
    await ProcessDriver.stopAllRecorded(stateDir);
    driver = await ProcessDriver.start({ services: { sample: { releasesDir, port: 0 } }, stateDir });
    expect((await driver.instances('sample')).map((i) => i.release)).toEqual(['v1.0.0']);
    expect(await health(driver.address('sample'))).toMatchObject({ release: 'v1.0.0', tools: 4 });
  }, 60_000);

  it('never leaves its folders nor lets a tool name break MCP_DISABLE_TOOLS, whatever the name', async () => {
    const root = mkdtempSync(join(tmpdir(), 'failsafe-escape-'));
    const releases = join(root, 'releases');
    mkdirSync(releases);
    // A release.yaml outside the releases folder that would leave a mark if it ever ran.
    const marker = join(root, 'ran');
    mkdirSync(join(root, 'x'));
    const command = `["{node}", "-e", "require('fs').writeFileSync(${JSON.stringify(marker)}, '')"]`;
    writeFileSync(join(root, 'x', 'release.yaml'), `release: x\ncommand: ${command}\n`);
    symlinkSync(join(root, 'x'), join(releases, 'linked'));
    const escaping = await ProcessDriver.start({
      services: { s: { releasesDir: releases, port: 0 } },
      stateDir: join(stateDir, 'escape'),
    });
    try {
      for (const release of ['../x', '../../x', 'a/../../x', '..', '.hidden', 'x\u0000', 'x\ny', `${root}/x`]) {
        await expect(escaping.deploy('s', release), release).rejects.toThrow(
          /UnsafeName: s release .* is not a plain name/,
        );
        expect(await escaping.hasRelease('s', release), release).toBe(false);
      }
      await expect(escaping.deploy('s', 'linked')).rejects.toThrow(
        /UnsafeName: s path "linked\/release.yaml" leads outside/,
      );
      expect(await escaping.hasRelease('s', 'linked')).toBe(false);
      expect(existsSync(marker)).toBe(false);
    } finally {
      await escaping.close();
      rmSync(root, { recursive: true, force: true });
    }
    await driver.deploy('sample', 'v1.0.0');
    for (const tool of ['refund,add', 'refund\u0000', 'a b', 'ré']) {
      await expect(driver.setFeatureFlags('sample', { ...noFeatureFlags, tools: [tool] }), tool).rejects.toThrow(
        /UnsafeName: sample tool .* is not a plain name/,
      );
    }
    expect(await health(driver.address('sample'))).toMatchObject({ release: 'v1.0.0', tools: 5 });
  }, 60_000);

  it('tells whether a release exists before anything is deployed', async () => {
    expect(await driver.hasRelease('sample', 'v1.0.0')).toBe(true);
    expect(await driver.hasRelease('sample', 'v9.9.9')).toBe(false);
  });

  it('adopts an instance whose state file predates agents and legacy mode, with its disabled tools', async () => {
    await driver.deploy('sample', 'v1.0.0');
    const flags = { ...noFeatureFlags, tools: ['refund'] };
    const [running] = await driver.setFeatureFlags('sample', flags);
    await driver.close();
    const stateFile = join(stateDir, 'sample.json');
    const { flags: _flags, ...state } = JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(stateFile, JSON.stringify({ ...state, disabledTools: ['refund'] }));
    driver = await ProcessDriver.start({ services: { sample: { releasesDir, port: 0 } }, stateDir });
    // The flags the old file said: nothing to restart.
    expect(await driver.setFeatureFlags('sample', flags)).toEqual([running]);
  }, 60_000);
});

describe('process driver, a service that pushes its own telemetry (real processes)', () => {
  let stateDir: string;
  let driver: ProcessDriver;
  afterEach(async () => {
    await driver?.stopAll();
    await driver?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('tells its instances where to publish, as whom, how often; a broker that is down does not stop them', async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'failsafe-driver-push-'));
    // Nothing listens there: the instance keeps serving while its publisher retries.
    const push = { brokers: ['127.0.0.1:1'], topic: 'fleet.samples', intervalMs: 200, timeoutMs: 1_000 };
    driver = await ProcessDriver.start({ services: { sample: { releasesDir, port: 0, push } }, stateDir });
    const [instance] = await driver.deploy('sample', 'v1.0.0');
    const pid = Number(instance!.id.replace('sample-', ''));
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    expect(environ).toEqual(
      expect.arrayContaining([
        'FAILSAFE_TELEMETRY_BROKERS=127.0.0.1:1',
        'FAILSAFE_TELEMETRY_TOPIC=fleet.samples',
        'FAILSAFE_TELEMETRY_SERVICE=sample',
        'FAILSAFE_TELEMETRY_INTERVAL_MS=200',
        'FAILSAFE_TELEMETRY_TIMEOUT_MS=1000',
      ]),
    );
    const log = join(stateDir, 'logs', 'sample-v1.0.0.log');
    const deadline = performance.now() + 30_000;
    while (!/could not publish/.test(readFileSync(log, 'utf8')) && performance.now() < deadline) await sleep(200);
    expect(readFileSync(log, 'utf8')).toMatch(/pushing its health samples to fleet\.samples every 200 ms/);
    expect(readFileSync(log, 'utf8')).toMatch(/telemetry: could not publish/);
    expect(await health(driver.address('sample'))).toMatchObject({ release: 'v1.0.0' });
  }, 60_000);

  it('tells a probed service nothing of the kind', async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'failsafe-driver-push-'));
    driver = await ProcessDriver.start({ services: { sample: { releasesDir, port: 0 } }, stateDir });
    const [instance] = await driver.deploy('sample', 'v1.0.0');
    const environ = readFileSync(`/proc/${instance!.id.replace('sample-', '')}/environ`, 'utf8');
    expect(environ).not.toMatch(/FAILSAFE_TELEMETRY_/);
  }, 60_000);
});
