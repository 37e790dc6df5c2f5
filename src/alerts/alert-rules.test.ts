import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { monitoringTool } from '../testing/monitoring-tools.js';

const compose = (path: string) => fileURLToPath(new URL(`../../compose/${path}`, import.meta.url));
const run = (tool: string, args: string[]) => execFileSync(tool, args, { encoding: 'utf8', stdio: 'pipe' });

describe('the alert rules and their routing', () => {
  it('are valid Prometheus rules: all thirteen of the seeds, under their names', () => {
    const promtool = monitoringTool('promtool');
    if (!promtool) return;
    expect(run(promtool, ['check', 'rules', compose('prometheus/alerts.yml')])).toMatch(/SUCCESS: 13 rules found/);
  });

  it('pass their unit tests: each fires above its threshold after its `for`, and stays silent below', () => {
    const promtool = monitoringTool('promtool');
    if (!promtool) return;
    // promtool exits non-zero on any failed expectation; execFileSync then throws with its report.
    expect(run(promtool, ['test', 'rules', compose('prometheus/alerts.test.yml')])).toMatch(/SUCCESS/);
  });

  it('route to Failsafe in a configuration Alertmanager accepts', () => {
    const amtool = monitoringTool('amtool');
    if (!amtool) return;
    const report = run(amtool, ['check-config', compose('alertmanager/alertmanager.yml')]);
    expect(report).toMatch(/SUCCESS[\s\S]*1 receivers/);
    const tree = run(amtool, ['config', 'routes', `--config.file=${compose('alertmanager/alertmanager.yml')}`]);
    expect(tree).toMatch(
      /\{severity="critical"\}\s+receiver: failsafe[\s\S]*\{severity="warning"\}\s+receiver: failsafe/,
    );
  });

  it('deliver to the webhook the compose stack names, with the token from its secret file', () => {
    const config = parse(readFileSync(compose('alertmanager/alertmanager.yml'), 'utf8'));
    expect(config.route.group_by).toEqual(['alertname', 'service']);
    expect(config.receivers[0].webhook_configs[0]).toMatchObject({
      url: 'http://failsafe:8080/alerts/alertmanager',
      send_resolved: true,
      http_config: { authorization: { credentials_file: '/run/secrets/alertmanager_webhook_token' } },
    });
  });
});
