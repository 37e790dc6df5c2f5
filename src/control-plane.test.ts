import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newToken } from './auth/tokens.js';
import { loadServeConfig, STORE_FILE } from './config/serve-config.js';
import { PushTelemetryNeedsKafka } from './config/telemetry-sources.js';
import { startControlPlane } from './control-plane.js';
import { freePort } from './drills/toxiproxy.js';
import { ProcessDriver } from './drivers/process-driver.js';
import { collect } from './event-store/event-store.contract.js';
import { SqliteEventStore } from './event-store/sqlite-event-store.js';
import { startKafkaBroker, type KafkaBroker } from './testing/kafka-broker.js';

const releasesDir = fileURLToPath(new URL('../drills/sample-fleet/releases/', import.meta.url));
const adminToken = newToken();

describe('failsafe serve with a fleet that pushes its telemetry', () => {
  let broker: KafkaBroker;
  let dir: string;
  beforeAll(async () => {
    broker = await startKafkaBroker();
  }, 120_000);
  afterAll(async () => {
    await broker?.stop();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-stale-serve-'));
  });
  afterEach(async () => {
    // The fleet's instances outlive serve on purpose (the next one adopts them): ended here.
    await ProcessDriver.stopAllRecorded(join(dir, 'fleet'), () => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  /** orders pushes its samples to Kafka; sample is probed. */
  const fleetFile = async () => {
    const service = async (name: string, extra: string) =>
      `  ${name}:\n    driver: process\n    releasesDir: ${releasesDir}\n    port: ${await freePort()}\n${extra}`;
    const text =
      `services:\n${await service('orders', '    telemetry: push\n')}${await service('sample', '')}` +
      'probe:\n  intervalSeconds: 1\n';
    writeFileSync(join(dir, 'fleet.yaml'), text);
    return join(dir, 'fleet.yaml');
  };

  it('is refused before anything starts when no Kafka would hear the pushing services', async () => {
    const config = loadServeConfig({ dataDir: dir, fleet: await fleetFile(), port: '0' }, {});
    await expect(startControlPlane(config, () => undefined)).rejects.toThrow(PushTelemetryNeedsKafka);
    await expect(startControlPlane(config, () => undefined)).rejects.toThrow(/orders in .* FAILSAFE_KAFKA_BROKERS/);
    expect(existsSync(join(dir, STORE_FILE))).toBe(false);
  });

  it('probes only the probed service, and raises the silent pushing one as stale telemetry', async () => {
    // orders is told a broker nobody answers on: it stays silent (its samples would reach Failsafe otherwise).
    const nowhere = `127.0.0.1:${await freePort()}`;
    const telemetry = `    staleAfterSeconds: 2\n    pushBrokers: [${nowhere}]\n`;
    writeFileSync(join(dir, 'failsafe.yaml'), `kafka:\n  telemetry:\n${telemetry}`);
    const flags = {
      dataDir: dir,
      fleet: await fleetFile(),
      port: '0',
      tickSeconds: '1',
      config: join(dir, 'failsafe.yaml'),
    };
    const env = { FAILSAFE_KAFKA_BROKERS: broker.brokers.join(','), FAILSAFE_ADMIN_TOKEN: adminToken };
    const lines: string[] = [];
    const plane = await startControlPlane(loadServeConfig(flags, env), (line) => lines.push(line));
    let metrics = '';
    try {
      for (const service of ['orders', 'sample']) {
        const response = await fetch(`${plane.url}/api/v1/services/${service}/deployments`, {
          method: 'POST',
          headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ release: 'v1.0.0' }),
        });
        expect(response.status, await response.text()).toBeLessThan(300);
      }
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        metrics = await (await fetch(`${plane.url}/metrics`)).text();
        const deployed = lines.filter((l) => / v1\.0\.0 deployed$/.test(l)).length;
        if (metrics.includes('failsafe_telemetry_stale{service="orders"} 1') && deployed === 2) break;
        await sleep(250);
      }
      // Both run now: a prober that probed orders would have recorded samples of it within three rounds.
      await sleep(3_000);
    } finally {
      await plane.stop();
    }
    expect(metrics).toContain('failsafe_telemetry_stale{service="orders"} 1');
    const store = SqliteEventStore.open({ path: join(dir, STORE_FILE) });
    try {
      const types = async (stream: string) => (await collect(store.readStream(stream))).map((e) => e.type);
      expect(await types('service-orders')).toContain('DeploymentHealthy');
      expect(await types('health-orders')).toEqual([]);
      expect(await types('health-sample')).toContain('HealthSampleRecorded');
      expect(await types('telemetry-orders')).toEqual(['TelemetryStale']);
      expect(await types('service-orders')).not.toContain('RollbackDecided');
    } finally {
      await store.close();
    }
  }, 90_000);
});
