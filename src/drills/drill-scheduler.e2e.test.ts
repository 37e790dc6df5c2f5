import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { newToken } from '../auth/tokens.js';
import { collect } from '../event-store/event-store.contract.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { encodeEvent } from '../events/catalogue.js';

const bin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));

interface Serve {
  readonly child: ChildProcess;
  output: string;
}

/** `failsafe serve` in its own process; resolves once it listens (its first scheduler tick is behind it then). */
function startServe(args: readonly string[]): Promise<Serve> {
  const env = { ...process.env, FAILSAFE_ADMIN_TOKEN: newToken() };
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

async function stopServe(serve: Serve): Promise<void> {
  if (serve.child.exitCode !== null) return;
  const exited = new Promise((resolve) => serve.child.once('exit', resolve));
  serve.child.kill('SIGTERM');
  await exited;
}

describe('drills scheduled by two failsafe serve processes on one store', () => {
  const root = mkdtempSync(join(tmpdir(), 'failsafe-two-serves-'));
  const dataDir = join(root, 'data');
  const serves: Serve[] = [];

  afterAll(async () => {
    await Promise.all(serves.map(stopServe));
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

  it('runs a slot that is due exactly once', async () => {
    // A drill due this very minute, on a service with no releases: it starts, cannot deploy, and ends fast.
    const now = new Date();
    const cron = `${now.getUTCMinutes()} ${now.getUTCHours()} * * *`;
    const slot = new Date(Math.floor(now.getTime() / 60_000) * 60_000).toISOString();
    for (const dir of ['drills', 'loadtests', 'releases', 'data']) mkdirSync(join(root, dir));
    writeFileSync(join(root, 'loadtests', 'load.js'), '');
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
        'timeout: 30s',
      ].join('\n'),
    );
    const fleet = join(root, 'fleet.yaml');
    writeFileSync(
      fleet,
      `services:\n  sample:\n    driver: process\n    releasesDir: ${join(root, 'releases')}\n    port: 0\n`,
    );
    // The schedule has been in force for an hour, so this minute's slot is due at start.
    const store = SqliteEventStore.open({ path: join(dataDir, 'failsafe.db') });
    const set = {
      type: 'DrillScheduleSet',
      data: { drill: 'due-now', cron, since: new Date(now.getTime() - 3_600_000).toISOString() },
    } as const;
    await store.append('drill-schedule-due-now', [encodeEvent(set, { actor: 'test', occurredAt: now })], 'no_stream');
    await store.close();

    const args = ['--port', '0', '--data-dir', dataDir, '--fleet', fleet, '--drills', join(root, 'drills')];
    serves.push(...(await Promise.all([startServe(args), startServe(args)])));
    const events = async () => {
      const reader = SqliteEventStore.open({ path: join(dataDir, 'failsafe.db') });
      try {
        return (await collect(reader.readAll())).filter((e) => e.type.startsWith('Drill'));
      } finally {
        await reader.close();
      }
    };
    await expect
      .poll(async () => (await events()).some((e) => e.type === 'DrillFinished'), { timeout: 120_000, interval: 500 })
      .toBe(true);
    await Promise.all(serves.map(stopServe));

    const recorded = await events();
    const started = recorded.filter((e) => e.type === 'DrillStarted');
    const claims = recorded.filter((e) => e.type === 'DrillSlotClaimed');
    const outputs = serves.map((s) => s.output).join('\n---\n');
    expect(
      started.map((e) => e.data),
      outputs,
    ).toEqual([expect.objectContaining({ drill: 'due-now', scheduledFor: slot })]);
    expect(claims.map((e) => e.data)).toEqual([expect.objectContaining({ slot, runId: started[0]!.data.runId })]);
    expect(recorded.filter((e) => e.type === 'DrillFinished').map((e) => e.data)).toEqual([
      expect.objectContaining({ runId: started[0]!.data.runId, outcome: 'aborted' }),
    ]);
    // Both processes were scheduling: each one's first tick came before it listened.
    for (const serve of serves) expect(serve.output).toMatch(/drills: scheduled from/);
  }, 180_000);
});
