import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newToken } from '../auth/tokens.js';
import { collect } from '../event-store/event-store.contract.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { encodeEvent, type DomainEvent } from '../events/catalogue.js';

const bin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));

interface Serve {
  readonly child: ChildProcess;
  output: string;
}

/** The admin tokens of the serve processes started: what they started carries it in its environment. */
const tokens: string[] = [];

/**
 * What a serve killed mid-drill left running: the Toxiproxy its drill started (a SIGKILL gives it no
 * chance to stop it), found by the serve's token in its environment.
 */
function killLeftBehind(): void {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (tokens.some((token) => environ.includes(`FAILSAFE_ADMIN_TOKEN=${token}`)))
        process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone, or not ours to read
    }
  }
}

/** `failsafe serve` in its own process; resolves once it listens (its first scheduler tick is behind it then). */
function startServe(args: readonly string[]): Promise<Serve> {
  const token = newToken();
  tokens.push(token);
  const env = { ...process.env, FAILSAFE_ADMIN_TOKEN: token };
  const child = spawn(process.execPath, [bin, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const serve: Serve = { child, output: '' };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${serve.output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      serve.output += chunk.toString();
      if (/listening on http/.test(serve.output)) {
        clearTimeout(timer);
        resolve(serve);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}:\n${serve.output}`)));
  });
}

async function stopServe(serve: Serve, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (serve.child.exitCode !== null || serve.child.signalCode !== null) return;
  const exited = new Promise((resolve) => serve.child.once('exit', resolve));
  serve.child.kill(signal);
  await exited;
}

describe('drills scheduled by failsafe serve processes on one store', () => {
  let root: string;
  let dataDir: string;
  let args: string[];
  let slot: string;
  const serves: Serve[] = [];

  const record = async (stream: string, ...events: DomainEvent[]) => {
    const store = SqliteEventStore.open({ path: join(dataDir, 'failsafe.db') });
    try {
      const encoded = events.map((event) => encodeEvent(event, { actor: 'test', occurredAt: new Date() }));
      await store.append(stream, encoded, 'any');
    } finally {
      await store.close();
    }
  };
  const drillEvents = async () => {
    const store = SqliteEventStore.open({ path: join(dataDir, 'failsafe.db') });
    try {
      return (await collect(store.readAll())).filter((e) => e.type.startsWith('Drill'));
    } finally {
      await store.close();
    }
  };
  const ofType = async (type: string) => (await drillEvents()).filter((e) => e.type === type);
  const outputs = () => serves.map((s) => s.output).join('\n---\n');

  /** A release of the sample service that exits at start: deploying it fails at once. */
  const crashing = (release: string) => `release: ${release}\ncommand: ["{node}", "-e", "process.exit(1)"]\n`;
  const writeRelease = (release: string, manifest: string) => {
    mkdirSync(join(root, 'releases', release), { recursive: true });
    writeFileSync(join(root, 'releases', release, 'release.yaml'), manifest);
  };

  /**
   * A drill due this very minute (its schedule in force for an hour) on a service whose releases
   * exist (the scheduler checks drills against the fleet) and exit at start: the drill starts,
   * cannot deploy, and ends fast.
   */
  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'failsafe-serves-'));
    dataDir = join(root, 'data');
    const now = new Date();
    const cron = `${now.getUTCMinutes()} ${now.getUTCHours()} * * *`;
    slot = new Date(Math.floor(now.getTime() / 60_000) * 60_000).toISOString();
    for (const dir of ['drills', 'loadtests', 'releases', 'data']) mkdirSync(join(root, dir));
    writeFileSync(join(root, 'loadtests', 'load.js'), '');
    for (const release of ['v1.0.0', 'v2.0.0']) writeRelease(release, crashing(release));
    writeFileSync(
      join(root, 'drills', 'due-now.yaml'),
      [
        'drill: due-now',
        'description: due this minute',
        'target: { service: sample, release: v1.0.0 }',
        'load: { script: loadtests/load.js }',
        'faults: [{ name: bad, kind: release, release: v2.0.0 }]',
        'expectations: [{ expect: healthy_after }]',
        `schedule: "${cron}"`,
        'timeout: 60s',
      ].join('\n'),
    );
    const fleet = join(root, 'fleet.yaml');
    writeFileSync(
      fleet,
      `services:\n  sample:\n    driver: process\n    releasesDir: ${join(root, 'releases')}\n    port: 0\n`,
    );
    const since = new Date(now.getTime() - 3_600_000).toISOString();
    await record('drill-schedule-due-now', { type: 'DrillScheduleSet', data: { drill: 'due-now', cron, since } });
    args = ['--port', '0', '--data-dir', dataDir, '--fleet', fleet, '--drills', join(root, 'drills')];
  });

  afterEach(async () => {
    await Promise.all(serves.splice(0).map((s) => stopServe(s)));
    killLeftBehind();
    // The fleet outlives Failsafe by design (the next one adopts it): stop it for good here.
    const pids = join(dataDir, 'fleet', 'pids');
    for (const pid of existsSync(pids) ? readdirSync(pids) : []) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(root, { recursive: true, force: true });
  });

  it('runs a slot that is due exactly once, with two serve processes', async () => {
    serves.push(...(await Promise.all([startServe(args), startServe(args)])));
    await expect.poll(() => ofType('DrillFinished'), { timeout: 120_000, interval: 500 }).toHaveLength(1);
    await Promise.all(serves.map((s) => stopServe(s)));

    const recorded = await drillEvents();
    const started = recorded.filter((e) => e.type === 'DrillStarted');
    const claims = recorded.filter((e) => e.type === 'DrillSlotClaimed');
    expect(
      started.map((e) => e.data),
      outputs(),
    ).toEqual([expect.objectContaining({ drill: 'due-now', scheduledFor: slot })]);
    expect(claims.map((e) => e.data)).toEqual([expect.objectContaining({ slot, runId: started[0]!.data.runId })]);
    expect(recorded.filter((e) => e.type === 'DrillFinished').map((e) => e.data)).toEqual([
      expect.objectContaining({ runId: started[0]!.data.runId, outcome: 'aborted' }),
    ]);
    // Both processes were scheduling: each one's first tick came before it listened.
    for (const serve of serves) expect(serve.output).toMatch(/drills: scheduled from/);
  }, 180_000);

  it('takes over the slot of a serve killed mid-drill: the dead run ends aborted, the slot runs again', async () => {
    // A release that never gets ready: the first run sits in its preparation long enough to be killed in it.
    writeRelease(
      'v1.0.0',
      'release: v1.0.0\ncommand: ["{node}", "-e", "setTimeout(() => {}, 600000)"]\nreadiness: { timeoutSeconds: 60 }\n',
    );
    const first = await startServe(args);
    serves.push(first);
    await expect.poll(() => ofType('DrillStarted'), { timeout: 60_000, interval: 200 }).toHaveLength(1);
    await stopServe(first, 'SIGKILL');
    const dead = (await ofType('DrillStarted'))[0]!.data.runId as string;
    // Two minutes pass (the lease's length), compressed: the lease the dead one last held has run out.
    await record('drill-schedule-due-now', {
      type: 'DrillSlotLeaseRenewed',
      data: { drill: 'due-now', runId: dead, leaseUntil: new Date(Date.now() - 1000).toISOString() },
    });
    writeRelease('v1.0.0', crashing('v1.0.0'));
    serves.push(await startServe(args));
    await expect.poll(() => ofType('DrillFinished'), { timeout: 150_000, interval: 500 }).toHaveLength(2);
    await stopServe(serves[1]!);

    const recorded = await drillEvents();
    const started = recorded.filter((e) => e.type === 'DrillStarted').map((e) => e.data);
    expect(started, outputs()).toEqual([
      expect.objectContaining({ runId: dead, scheduledFor: slot }),
      expect.objectContaining({ runId: expect.not.stringMatching(dead), scheduledFor: slot }),
    ]);
    const takenOver = recorded.filter((e) => e.type === 'DrillSlotTakenOver').map((e) => e.data);
    expect(takenOver).toEqual([expect.objectContaining({ slot, from: dead, runId: started[1]!.runId })]);
    const ofRun = (runId: unknown) => recorded.filter((e) => (e.data as { runId?: unknown }).runId === runId);
    expect(
      ofRun(dead)
        .filter((e) => e.type === 'DrillFinished')
        .map((e) => e.data),
    ).toEqual([expect.objectContaining({ outcome: 'aborted' })]);
    expect(ofRun(dead).at(-1)!.type).toBe('DrillFinished');
    expect(ofRun(started[1]!.runId).filter((e) => e.type === 'DrillFinished')).toHaveLength(1);
  }, 300_000);
});
