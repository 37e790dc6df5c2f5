import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect } from '../event-store/event-store.contract.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { encodeEvent, type DomainEvent } from '../events/catalogue.js';

const bin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));

/** Every process started, also one that never said it listens: all are stopped after. */
const children: ChildProcess[] = [];

function serve(dataDir: string): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--data-dir', dataDir, '--tick-seconds', '1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`failsafe serve did not start: ${output}`)), 30_000);
    child.stdout!.on('data', () => {
      if (output.includes('listening on')) {
        clearTimeout(timer);
        resolve({ child, output: () => output });
      }
    });
  });
}

describe('two Failsafe processes sharing one SQLite store', () => {
  let dataDir: string;
  let servers: { child: ChildProcess; output: () => string }[] = [];
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'failsafe-race-'));
    servers = await Promise.all([serve(dataDir), serve(dataDir)]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise((resolve) =>
            child.exitCode !== null ? resolve(null) : (child.once('exit', resolve), child.kill('SIGTERM')),
          ),
      ),
    );
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('record exactly one rollback decision for a failing service', async () => {
    const store = SqliteEventStore.open({ path: join(dataDir, 'failsafe.db') });
    try {
      const append = (stream: string, event: DomainEvent) =>
        store.append(stream, [encodeEvent(event, { actor: 'test', occurredAt: new Date() })], 'any');
      const d = (id: string, release: string) => ({ deploymentId: id, service: 'payments', release });
      await append('service-payments', { type: 'DeploymentRequested', data: d('d-1', 'v1') });
      await append('service-payments', { type: 'DeploymentStarted', data: d('d-1', 'v1') });
      await append('service-payments', { type: 'DeploymentHealthy', data: d('d-1', 'v1') });
      await append('service-payments', { type: 'DeploymentRequested', data: d('d-2', 'v2') });
      await append('service-payments', { type: 'DeploymentStarted', data: d('d-2', 'v2') });
      for (let i = 0; i < 10; i += 1) {
        await append('health-payments', {
          type: 'HealthSampleRecorded',
          data: {
            service: 'payments',
            instance: `p-${i % 2}`,
            sampledAt: new Date().toISOString(),
            healthy: true,
            healthLatencyMs: 3,
            requests: { total: 200, errors: 90 },
          },
        });
        await sleep(100);
      }
      const deadline = Date.now() + 20_000;
      let decided: unknown[] = [];
      while (Date.now() < deadline && decided.length === 0) {
        await sleep(200);
        decided = (await collect(store.readStream('service-payments'))).filter((e) => e.type === 'RollbackDecided');
      }
      await sleep(1_500);
      const finalDecisions = (await collect(store.readStream('service-payments'))).filter(
        (e) => e.type === 'RollbackDecided',
      );
      expect(finalDecisions, servers.map((s) => s.output()).join('\n')).toHaveLength(1);
      expect(finalDecisions[0]!.data).toMatchObject({
        service: 'payments',
        rule: 'error_rate_critical',
        mode: 'automatic',
        targetRelease: 'v1',
      });
      expect(servers.some((s) => s.output().includes('policy: error_rate_critical on payments'))).toBe(true);
    } finally {
      await store.close();
    }
  }, 60_000);
});
