import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTraffic } from '../../drills/sample-fleet/traffic.js';
import { newToken } from '../auth/tokens.js';
import { loadServeConfig, STORE_FILE } from '../config/serve-config.js';
import { startControlPlane } from '../control-plane.js';
import { freePort } from '../drills/toxiproxy.js';
import { ProcessDriver } from '../drivers/process-driver.js';
import { FailsafeMetrics } from '../http/metrics.js';
import { scrapeCaughtUp, seedOperationsStore } from '../http/operations-history.fixture.js';
import { dashboardQueries } from './dashboard-queries.js';
import { buildDashboards } from './dashboards.js';
import { promqlMetricNames } from './promql-metric-names.js';

const releasesDir = fileURLToPath(new URL('../../drills/sample-fleet/releases/', import.meta.url));
const adminToken = newToken();

/** The series names of a Prometheus text exposition: histograms as their _bucket, _sum and _count. */
const seriesNames = (exposition: string): Set<string> =>
  new Set(
    exposition
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => /^[A-Za-z_:][\w:]*/.exec(line)![0]),
  );

/** The metrics Failsafe registers only with Kafka (telemetry consumer, event feed, pushed telemetry). */
async function kafkaOnlyNames(): Promise<Set<string>> {
  const bare = new FailsafeMetrics(async () => ({}));
  const wired = new FailsafeMetrics(async () => ({}));
  wired.watchTelemetry(() => ({ orders: false }));
  wired.watchTelemetryConsumer(() => ({ state: 'consuming', lag: [{ topic: 'samples', partition: 0, lag: 3 }] }));
  wired.watchEventFeed(async () => ({
    state: 'following',
    topic: 'events',
    position: 5n,
    published: 5,
    headPosition: 7n,
    lagEvents: 2,
  }));
  wired.kafkaTelemetryMessages.inc({ topic: 'samples', outcome: 'recorded' });
  wired.feedPublished.inc();
  const before = seriesNames(await bare.registry.metrics());
  return new Set([...seriesNames(await wired.registry.metrics())].filter((name) => !before.has(name)));
}

/**
 * A real `failsafe serve` with the sample fleet, its history holding a verified rollback and a
 * passed drill run (recorded through the deciders before it starts), one deployment and one
 * rollback request made through its REST API, and tool calls to the deployed instance: every series
 * name each dashboard query reads is in Failsafe's scrape or the fleet member's.
 */
describe('the dashboards against the metrics Failsafe and its fleet really expose', () => {
  let dir: string;
  let failsafeScrape: Set<string>;
  let memberScrape: Set<string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-dashboards-'));
    await seedOperationsStore(join(dir, STORE_FILE));
    const fleet = join(dir, 'fleet.yaml');
    writeFileSync(
      fleet,
      `services:\n  sample:\n    driver: process\n    releasesDir: ${releasesDir}\n    port: ${await freePort()}\n` +
        '    probeTool: time\nprobe:\n  intervalSeconds: 1\n  timeoutSeconds: 3\n',
    );
    const config = loadServeConfig({ dataDir: dir, fleet, port: '0' }, { FAILSAFE_ADMIN_TOKEN: adminToken });
    const plane = await startControlPlane(config, () => undefined);
    try {
      const deployed = await fetch(`${plane.url}/api/v1/services/sample/deployments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ release: 'v1.0.0' }),
      });
      expect(deployed.status, await deployed.text()).toBeLessThan(300);
      const member = plane.serviceAddresses.sample!;
      const traffic = startTraffic(() => member);
      try {
        const deadline = performance.now() + 20_000;
        for (;;) {
          const scrape = await fetch(`${member}/metrics`).then(
            (r) => r.text(),
            () => '',
          );
          memberScrape = seriesNames(scrape);
          if (memberScrape.has('mcp_tool_requests_total') && memberScrape.has('mcp_requests_total')) break;
          if (performance.now() > deadline) throw new Error(`the fleet member's /metrics lacks tool calls:\n${scrape}`);
          await sleep(200);
        }
      } finally {
        await traffic.stop();
      }
      // mcp_rollbacks_triggered_total counts what this process sees decided or requested: one request, live.
      const requested = await fetch(`${plane.url}/api/v1/services/payments/rollbacks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'the dashboards test asks', targetRelease: 'v1.1.0' }),
      });
      expect(requested.status, await requested.text()).toBeLessThan(300);
      const deadline = performance.now() + 10_000;
      do failsafeScrape = seriesNames(await scrapeCaughtUp(plane.url));
      while (!failsafeScrape.has('mcp_rollbacks_triggered_total') && performance.now() < deadline);
    } finally {
      await plane.stop();
      await ProcessDriver.stopAllRecorded(join(dir, 'fleet'), () => undefined);
    }
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('expose the drill, rollback and service series the dashboards read', () => {
    for (const name of [
      'mcp_rollbacks_triggered_total',
      'failsafe_drill_last_run_passed',
      'failsafe_drill_next_due_timestamp_seconds',
      'failsafe_rollback_duration_seconds_bucket',
      'failsafe_service_status',
    ])
      expect(failsafeScrape).toContain(name);
  });

  it('name in every panel and variable query only series that Failsafe or its fleet expose', async () => {
    const kafkaOnly = await kafkaOnlyNames();
    const missing: string[] = [];
    let checked = 0;
    for (const dashboard of buildDashboards())
      for (const { where, expr } of dashboardQueries(dashboard))
        for (const name of promqlMetricNames(expr)) {
          checked += 1;
          if (!failsafeScrape.has(name) && !memberScrape.has(name) && !kafkaOnly.has(name))
            missing.push(`${dashboard.uid}, ${where}: ${name} (in ${expr})`);
        }
    expect(checked).toBeGreaterThan(40);
    expect(missing, 'series no scrape exposes').toEqual([]);
  });

  it('leave to the Kafka-only series only what a serve without Kafka cannot expose', async () => {
    const kafkaOnly = await kafkaOnlyNames();
    expect([...kafkaOnly].sort()).toEqual([
      'failsafe_kafka_consumer_lag_messages',
      'failsafe_kafka_feed_lag_events',
      'failsafe_kafka_feed_position',
      'failsafe_kafka_feed_state',
      'failsafe_kafka_telemetry_messages_total',
      'failsafe_telemetry_stale',
    ]);
    for (const name of kafkaOnly) expect(failsafeScrape).not.toContain(name);
  });
});
