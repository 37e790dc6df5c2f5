import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InvalidPolicyFile, loadPolicy, parsePolicy } from './policy-file.js';
import { defaultRollbackPolicy } from './rollback-policy.js';

const shipped = fileURLToPath(new URL('../../projections/rollback-policy.yaml', import.meta.url));

const problemsOf = (text: string): readonly string[] => {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (error) {
    if (error instanceof InvalidPolicyFile) return error.problems;
    throw error;
  }
  throw new Error('expected InvalidPolicyFile');
};

describe('rollback policy file', () => {
  it('ships a file equal to the built-in defaults from the seeds', () => {
    expect(loadPolicy(shipped)).toEqual(defaultRollbackPolicy);
    expect(loadPolicy(undefined)).toBe(defaultRollbackPolicy);
  });

  it('lists every problem with its line', () => {
    const text = [
      'version: 1',
      'rules:',
      '  too_slow:',
      '    when: latency_p95',
      '    threshold: fast',
      '    action: automatic_rollback',
      '  unknown_action:',
      '    when: error_rate',
      '    threshold: 0.2',
      '    action: page_someone',
      '  no_threshold:',
      '    when: error_rate',
      '    action: manual_rollback',
    ].join('\n');
    const problems = problemsOf(text);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^line 4: rules.too_slow.when: /),
        expect.stringMatching(/^line 5: rules.too_slow.threshold: /),
        expect.stringMatching(/^line 10: rules.unknown_action.action: /),
        expect.stringMatching(/^line 12: rules.no_threshold.threshold: is required/),
      ]),
    );
    expect(problems).toHaveLength(4);
  });

  it('reports broken YAML by line, and an unreadable file by name', () => {
    expect(problemsOf('version: 1\nrules: [\n')[0]).toMatch(/^line \d+: /);
    expect(() => loadPolicy('/nonexistent/policy.yaml')).toThrow(
      /InvalidPolicyFile: \/nonexistent\/policy.yaml .*cannot be read/s,
    );
  });

  it('refuses unknown keys, which are usually typos', () => {
    const text = readFileSync(shipped, 'utf8').replace('validForSeconds: 900', 'validForSecs: 900');
    expect(problemsOf(text)).toContainEqual(
      expect.stringMatching(/^line \d+: approval: Unrecognized key: "validForSecs"/),
    );
  });

  it('takes an alert rule only with the alerts it names, and alert names only on an alert rule', () => {
    const rule = (name: string, lines: string[]) => [`  ${name}:`, ...lines.map((line) => `    ${line}`)];
    const text = [
      'version: 1',
      'rules:',
      ...rule('no_alerts', ['when: alert_firing', 'action: automatic_rollback']),
      ...rule('stray_alerts', [
        'when: error_rate',
        'threshold: 0.1',
        'alerts: [HighErrorRate]',
        'action: manual_rollback',
      ]),
      ...rule('bad_name', ['when: alert_firing', 'alerts: ["High Error"]', 'action: manual_rollback']),
      ...rule('fine', ['when: alert_firing', 'alerts: [ServiceDown]', 'action: automatic_rollback']),
    ].join('\n');
    const problems = problemsOf(text);
    expect(problems).toEqual([
      expect.stringMatching(/rules.no_alerts.alerts: names the alerts of an alert_firing rule/),
      expect.stringMatching(/rules.stray_alerts.alerts: names the alerts of an alert_firing rule/),
      expect.stringMatching(/rules.bad_name.alerts.0: must be an alert name/),
    ]);
  });
});
