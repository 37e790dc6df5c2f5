import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { startTraffic, type Traffic } from '../../drills/sample-fleet/traffic.js';
import { hashToken, newToken } from '../auth/tokens.js';
import { loadServeConfig } from '../config/serve-config.js';
import { startControlPlane } from '../control-plane.js';
import { defaultRollbackPolicy } from '../policy/rollback-policy.js';
import { ALERT_STREAM, serviceStream } from '../domain/streams.js';
import { readServedStream } from '../http/front-door.fixture.js';
import {
  type MonitoringServer,
  monitoringTool,
  startAlertmanager,
  startPrometheus,
} from '../testing/monitoring-tools.js';

const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/**
 * The shipped alert rules as the test loads them: thresholds and expressions unchanged, every
 * `for` shortened to 1 s (a rule still goes pending, then firing) so the path runs in seconds.
 */
const rulesForTest = (text: string) => text.replace(/^(\s+)for: \S+$/gm, '$1for: 1s');

/**
 * The shipped routing as the test loads it: the webhook's address and token file are this run's,
 * and every group waits 1 s instead of seconds or minutes. Receivers, matchers and grouping unchanged.
 */
function routingForTest(text: string, webhookUrl: string, tokenFile: string): string {
  const config = parse(text);
  const quick = (route: Record<string, unknown>) =>
    Object.assign(route, { group_wait: '1s', group_interval: '1s', repeat_interval: '1m' });
  quick(config.route);
  for (const route of config.route.routes) quick(route);
  for (const receiver of config.receivers)
    for (const webhook of receiver.webhook_configs) {
      webhook.url = webhookUrl;
      webhook.http_config.authorization.credentials_file = tokenFile;
    }
  return stringify(config);
}

/** The seeds' alert rules only: the health rules would race the alert for the same rollback. */
const alertPolicy = () => {
  const rules = Object.entries(defaultRollbackPolicy.rules).filter(([, rule]) => rule.when === 'alert_firing');
  return stringify({ version: 1, rules: Object.fromEntries(rules) });
};

describe('a Prometheus alert, through Alertmanager, to a rollback (real servers)', () => {
  const tools = ['prometheus', 'prometheus-alertmanager'] as const;
  const available = tools.every((tool) => monitoringTool(tool));
  const dir = mkdtempSync(join(tmpdir(), 'failsafe-alert-path-'));
  const adminToken = newToken();
  let plane: Awaited<ReturnType<typeof startControlPlane>> | undefined;
  let prometheus: MonitoringServer | undefined;
  let alertmanager: MonitoringServer | undefined;
  let traffic: Traffic | undefined;
  const log: string[] = [];
  /** The sample service's stable address (host:port), where the test's traffic and Prometheus reach it. */
  let address = '';

  const readStream = (stream: string) => readServedStream(join(dir, 'data'), stream);
  const serviceEvents = async () => (await readStream(serviceStream('sample'))).map((e) => e.type);
  const deploy = async (release: string) => {
    const done = (await serviceEvents()).filter((t) => t === 'DeploymentHealthy').length + 1;
    const response = await fetch(`${plane!.url}/api/v1/services/sample/deployments`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ release }),
    });
    expect(response.status, await response.text()).toBe(201);
    await expect
      .poll(async () => (await serviceEvents()).filter((t) => t === 'DeploymentHealthy').length, { timeout: 20_000 })
      .toBe(done);
  };

  beforeAll(async () => {
    if (!available) return;
    const alertmanagerToken = newToken();
    const fleetFile = join(dir, 'fleet.yaml');
    const releasesDir = repo('drills/sample-fleet/releases');
    writeFileSync(
      fleetFile,
      `services:\n  sample:\n    driver: process\n    releasesDir: ${releasesDir}\n    port: 0\n    probeTool: time\n`,
    );
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, alertPolicy());
    const dataDir = join(dir, 'data');
    const config = loadServeConfig(
      { dataDir, port: '0', fleet: fleetFile, policy: policyFile },
      { FAILSAFE_ADMIN_TOKEN: adminToken },
    );
    const tokens = [{ name: 'alertmanager', role: 'alertmanager' as const, sha256: hashToken(alertmanagerToken) }];
    plane = await startControlPlane({ ...config, tokens }, (line) => log.push(line));
    address = log.map((line) => /fleet: sample answers on http:\/\/(\S+)/.exec(line)?.[1]).find(Boolean)!;

    const tokenFile = join(dir, 'alertmanager_webhook_token');
    writeFileSync(tokenFile, alertmanagerToken);
    const routing = readFileSync(repo('compose/alertmanager/alertmanager.yml'), 'utf8');
    writeFileSync(
      join(dir, 'alertmanager.yml'),
      routingForTest(routing, `${plane.url}/alerts/alertmanager`, tokenFile),
    );
    writeFileSync(join(dir, 'alerts.yml'), rulesForTest(readFileSync(repo('compose/prometheus/alerts.yml'), 'utf8')));
    alertmanager = await startAlertmanager(join(dir, 'alertmanager.yml'));
    // The fleet's target carries its Failsafe service name, as compose/prometheus/prometheus.yml labels it.
    const scrape = {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: ['alerts.yml'],
      alerting: { alertmanagers: [{ static_configs: [{ targets: [new URL(alertmanager.url).host] }] }] },
      scrape_configs: [
        { job_name: 'failsafe', static_configs: [{ targets: [new URL(plane.url).host] }] },
        { job_name: 'fleet', static_configs: [{ targets: [address], labels: { service: 'sample' } }] },
      ],
    };
    writeFileSync(join(dir, 'prometheus.yml'), stringify(scrape));
    prometheus = await startPrometheus(join(dir, 'prometheus.yml'));
  }, 60_000);

  afterAll(async () => {
    await traffic?.stop();
    await prometheus?.stop();
    await alertmanager?.stop();
    await plane?.stop();
    // The fleet outlives Failsafe by design (the next one adopts it): stop its instances here.
    const pids = join(dir, 'data', 'fleet', 'pids');
    for (const pid of existsSync(pids) ? readdirSync(pids) : []) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!available)(
    'fires an error-rate alert on a bad release, records it, and the policy rolls the release back on it',
    async () => {
      await deploy('v1.0.0');
      await deploy('v2.0.0-errors');
      traffic = startTraffic(() => `http://${address}`);

      // The policy acts on the first of the critical alerts it names to arrive (errors above 15 %, or above 5 %).
      const decided = async () =>
        (await readStream(serviceStream('sample'))).find((e) => e.type === 'RollbackDecided')?.data;
      await expect.poll(decided, { timeout: 30_000, interval: 250 }).toBeDefined();
      const decision = (await decided()) as { alert: { alertname: string; fingerprint: string } } & Record<
        string,
        unknown
      >;
      expect(decision).toMatchObject({ rule: 'alert_critical', mode: 'automatic', targetRelease: 'v1.0.0' });
      expect(['CriticalErrorRate', 'HighErrorRate']).toContain(decision.alert.alertname);

      // The alert as recorded: the service label the scrape config gave, and Alertmanager's own fingerprint.
      const alerts = await readStream(ALERT_STREAM);
      const evidence = alerts.find((e) => e.id === (decision.evidenceEventIds as string[])[0])!;
      expect(evidence).toMatchObject({
        type: 'AlertReceived',
        data: { alertname: decision.alert.alertname, service: 'sample', status: 'firing', severity: 'critical' },
        metadata: { actor: 'alertmanager' },
      });
      const held = (await (await fetch(`${alertmanager!.url}/api/v2/alerts`)).json()) as {
        fingerprint: string;
        labels: Record<string, string>;
      }[];
      expect(held).toContainEqual(
        expect.objectContaining({
          fingerprint: decision.alert.fingerprint,
          labels: expect.objectContaining({ alertname: decision.alert.alertname, service: 'sample' }),
        }),
      );
      await expect.poll(serviceEvents, { timeout: 20_000 }).toContain('RollbackCompleted');
    },
    60_000,
  );
});
