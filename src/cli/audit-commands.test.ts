import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RollbackProcessManager } from '../policy/rollback-process-manager.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { encodeEvent, type DomainEvent } from '../events/catalogue.js';
import { defaultRollbackPolicy } from '../policy/rollback-policy.js';
import { MemoryCheckpointStore } from '../runtime/memory-checkpoint-store.js';

const bin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));
const failsafe = (...args: string[]) => {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
};
const t0 = Date.UTC(2026, 11, 1, 3);

describe('auditor commands', () => {
  let dataDir: string;
  let rollbackId = '';
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'failsafe-audit-cli-'));
    const store = SqliteEventStore.open({ path: join(dataDir, 'failsafe.db') });
    const manager = new RollbackProcessManager(store, defaultRollbackPolicy, new MemoryCheckpointStore());
    await manager.start();
    const append = (stream: string, event: DomainEvent, seconds: number) =>
      store.append(stream, [encodeEvent(event, { actor: 'alice', occurredAt: new Date(t0 + seconds * 1000) })], 'any');
    const d = (id: string, release: string) => ({ deploymentId: id, service: 'payments', release });
    await append('service-payments', { type: 'DeploymentRequested', data: d('d-1', 'v1') }, 0);
    await append('service-payments', { type: 'DeploymentStarted', data: d('d-1', 'v1') }, 1);
    await append('service-payments', { type: 'DeploymentHealthy', data: d('d-1', 'v1') }, 2);
    await append('service-payments', { type: 'DeploymentRequested', data: d('d-2', 'v2') }, 3);
    await append('service-payments', { type: 'DeploymentStarted', data: d('d-2', 'v2') }, 4);
    for (let s = 10; s <= 30; s += 10) {
      await append(
        'health-payments',
        {
          type: 'HealthSampleRecorded',
          data: {
            service: 'payments',
            instance: 'p-1',
            sampledAt: new Date(t0 + s * 1000).toISOString(),
            healthy: true,
            healthLatencyMs: 3,
            requests: { total: 100, errors: 50 },
          },
        },
        s,
      );
    }
    await manager.catchUp();
    await manager.stop();
    // Retention moves the evidence to the archive: every command below reads it from there.
    await store.setStreamMetadata('health-payments', { maxCount: 1 });
    for await (const e of store.readStream('service-payments'))
      if (e.type === 'RollbackDecided') rollbackId = String(e.data.rollbackId);
    await store.close();
  }, 60_000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('audit verify reports each decision reproduced and exits 0', () => {
    const result = failsafe('audit', 'verify', '--data-dir', dataDir);
    expect(result.stdout).toContain(`✓ reproduced      ${rollbackId}  payments  error_rate_critical`);
    expect(result.stdout).toContain('Result: OK');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('full: no verification recorded yet');
    // The second run goes on from the first, which it recorded.
    expect(JSON.parse(failsafe('audit', 'verify', '--data-dir', dataDir, '--json').stdout)).toMatchObject({
      ok: true,
      missing: [],
      mode: 'incremental',
      eventsThisRun: 1,
    });
  });

  it('audit verify --threads takes a positive whole number, and any gives the same report', () => {
    const refused = failsafe('audit', 'verify', '--data-dir', dataDir, '--threads', '0');
    expect(refused.stderr).toContain("option '--threads <n>' argument '0' is invalid. must be a positive whole number");
    expect(refused.code).toBe(1);
    const report = (threads: string) => {
      const result = failsafe('audit', 'verify', '--data-dir', dataDir, '--from-start', '--threads', threads, '--json');
      const { eventsReplayed: _e, eventsThisRun: _t, throughPosition: _p, ...verdicts } = JSON.parse(result.stdout);
      return verdicts;
    };
    expect(report('2')).toEqual(report('1'));
  });

  it('explain walks from the decision to its evidence', () => {
    const result = failsafe('explain', rollbackId, '--data-dir', dataDir);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(`Rollback ${rollbackId} of payments: automatic, decided .* by failsafe:policy`),
    );
    expect(result.stdout).toMatch(/rule error_rate_critical: observed 0.5 against threshold 0.1 \(ratio\)/);
    expect(result.stdout).toMatch(/Evidence \(1 events\)\n .*HealthSampleRecorded/);
    expect(failsafe('explain', 'rb-unknown', '--data-dir', dataDir).stderr).toMatch(/DecisionNotFound/);
  });

  it('replay --at shows the state at that instant, and refuses a malformed time', () => {
    const before = failsafe('replay', '--at', new Date(t0 + 5_000).toISOString(), '--data-dir', dataDir);
    expect(before.stdout).toMatch(/payments {2}release v2 {2}last known good v1 {2}deploying/);
    const after = failsafe('replay', '--at', new Date(t0 + 60_000).toISOString(), '--data-dir', dataDir);
    expect(after.stdout).toMatch(new RegExp(`rollback ${rollbackId} \\(automatic, decided\\)`));
    expect(after.stdout).toMatch(new RegExp(`${rollbackId}  P1  payments  error_rate_critical`));
    expect(failsafe('replay', '--at', 'yesterday', '--data-dir', dataDir).stderr).toMatch(/ISO-8601/);
  });

  it('replay --at from the snapshots earlier replays saved shows what a replay from zero shows', () => {
    for (const seconds of [60, 25, 3]) {
      const at = new Date(t0 + seconds * 1000).toISOString();
      const fromSnapshots = failsafe('replay', '--at', at, '--data-dir', dataDir, '--json');
      expect(fromSnapshots.code).toBe(0);
      expect(JSON.parse(fromSnapshots.stdout)).toEqual(
        JSON.parse(failsafe('replay', '--at', at, '--data-dir', dataDir, '--json', '--from-zero').stdout),
      );
    }
  });

  it('audit verify names a damaged archive segment and exits 1', () => {
    const copy = mkdtempSync(join(tmpdir(), 'failsafe-audit-cli-'));
    try {
      cpSync(dataDir, copy, { recursive: true });
      const archive = join(copy, 'failsafe.db.archive');
      const segment = join(archive, readdirSync(archive)[0]!);
      writeFileSync(segment, 'not gzip');
      // From the start: a run going on from the last verification does not read the part verified already.
      const result = failsafe('audit', 'verify', '--data-dir', copy, '--from-start');
      expect(result.stderr).toContain(`failsafe: ArchiveCorrupt: archive segment ${segment} is damaged`);
      expect(result.code).toBe(1);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
