import { describe, expect, it } from 'vitest';
import { drillReportHtml, trendTable } from './drill-report.js';
import { detectionAndRecovery, judge, notJudged, verdictWord, type Observations, type Scorecard } from './scorecard.js';

const t0 = Date.parse('2026-11-24T10:00:00Z');
const seen: Observations = {
  faultAt: t0,
  decided: { at: t0 + 2_000, mode: 'automatic', rule: 'error_rate_critical' },
  rollbackStarted: t0 + 2_200,
  completed: t0 + 3_100,
  disabledTools: [],
  releaseAfter: 'v1.0.0',
  healthyAfter: true,
  toolsAfter: 5,
  load: { after: { requests: 300, p95Ms: 12, medianMs: 3, errorRate: 0.01 } },
};

describe('expectations', () => {
  it('pass when what happened fits, saying what was observed', () => {
    expect(judge({ expect: 'rollback_decided', mode: 'automatic', within: 30_000 }, seen)).toEqual({
      expectation: 'rollback_decided (automatic) within 30.0 s',
      passed: true,
      detail: 'decided after 2.0 s by rule error_rate_critical',
    });
    expect(judge({ expect: 'rollback_completed', within: 60_000 }, seen).passed).toBe(true);
    expect(judge({ expect: 'load_after', p95BelowMs: 2000, errorRateBelow: 0.05 }, seen).detail).toBe(
      'p95 12 ms, errors 1.0 % over 300 requests',
    );
  });

  it('fail with the reason: too late, the wrong mode, not at all', () => {
    expect(judge({ expect: 'rollback_decided', mode: 'automatic', within: 1_000 }, seen)).toMatchObject({
      passed: false,
      detail: 'decided after 2.0 s by rule error_rate_critical',
    });
    expect(judge({ expect: 'rollback_decided', mode: 'manual', within: 30_000 }, seen)).toMatchObject({
      passed: false,
      detail: 'a automatic rollback was decided (rule error_rate_critical), not manual',
    });
    expect(judge({ expect: 'tool_disabled', tool: 'refund', within: 30_000 }, seen)).toMatchObject({
      passed: false,
      detail: 'no tool was disabled',
    });
    expect(judge({ expect: 'no_rollback', during: 60_000 }, seen)).toMatchObject({
      passed: false,
      detail: 'a rollback started after 2.2 s',
    });
    const awaitingApproval = { ...seen, rollbackStarted: undefined, decided: { ...seen.decided!, mode: 'manual' } };
    expect(judge({ expect: 'no_rollback', during: 60_000 }, awaitingApproval)).toMatchObject({
      passed: false,
      detail: 'a manual rollback was decided after 2.0 s (rule error_rate_critical)',
    });
    expect(judge({ expect: 'release_after', release: 'v2.0.0' }, seen)).toMatchObject({
      passed: false,
      detail: 'the service runs v1.0.0',
    });
    expect(judge({ expect: 'load_after', p95BelowMs: 10, errorRateBelow: 0.05 }, seen).passed).toBe(false);
    expect(judge({ expect: 'migration_reverted', within: 10_000 }, seen)).toMatchObject({
      passed: false,
      detail: 'a automatic rollback was decided but the migration was not reverted',
    });
  });

  it('judge an incident raised without a rollback, and its resolution', () => {
    const incident = { ...seen, incident: { at: t0 + 4_000, rule: 'telemetry_stale', resolvedAt: t0 + 30_000 } };
    expect(judge({ expect: 'incident_opened', rule: 'telemetry_stale', within: 10_000 }, incident)).toEqual({
      expectation: 'incident_opened (telemetry_stale) within 10.0 s',
      passed: true,
      detail: 'opened after 4.0 s',
    });
    expect(judge({ expect: 'incident_resolved', within: 20_000 }, incident)).toEqual({
      expectation: 'incident_resolved within 20.0 s',
      passed: false,
      detail: 'telemetry_stale resolved after 30.0 s',
    });
    const open = { ...seen, incident: { at: t0 + 4_000, rule: 'telemetry_stale' } };
    expect(judge({ expect: 'incident_resolved', within: 60_000 }, open).detail).toBe(
      'the telemetry_stale incident is still open',
    );
    expect(judge({ expect: 'incident_opened', rule: 'telemetry_stale', within: 60_000 }, seen)).toMatchObject({
      passed: false,
      detail: 'no incident was opened',
    });
  });

  it('of an aborted run are listed as not judged, named as when judged, with the reason', () => {
    const verdict = notJudged(
      { expect: 'rollback_decided', mode: 'automatic', within: 30_000 },
      'interrupted (Ctrl-C)',
    );
    expect(verdict).toEqual({
      expectation: 'rollback_decided (automatic) within 30.0 s',
      passed: false,
      detail: 'not judged: the run was aborted (interrupted (Ctrl-C))',
      notJudged: true,
    });
    expect([verdictWord(verdict), verdictWord({ ...verdict, notJudged: undefined })]).toEqual(['NOT JUDGED', 'FAIL']);
  });

  it('measure detection from the first fault to the decision, recovery to the completion', () => {
    expect(detectionAndRecovery(seen)).toEqual({ timeToDetectMs: 2_000, timeToRecoverMs: 3_100 });
    expect(
      detectionAndRecovery({ ...seen, decided: undefined, completed: undefined, rollbackStarted: undefined }),
    ).toEqual({});
    const incident = { at: t0 + 4_000, rule: 'telemetry_stale', resolvedAt: t0 + 30_000 };
    expect(detectionAndRecovery({ ...seen, decided: undefined, completed: undefined, incident })).toEqual({
      timeToDetectMs: 4_000,
      timeToRecoverMs: 30_000,
    });
  });
});

describe('the report', () => {
  const card: Scorecard = {
    runId: 'run-1',
    drill: 'high-error-rate',
    description: 'A <bad> release',
    service: 'sample',
    outcome: 'failed',
    startedAt: '2026-11-24T10:00:00.000Z',
    finishedAt: '2026-11-24T10:01:00.000Z',
    timeToDetectMs: 2_000,
    timeToRecoverMs: 3_100,
    load: seen.load,
    expectations: [
      { expectation: 'rollback_decided (automatic) within 30.0 s', passed: true, detail: 'decided after 2.0 s' },
      { expectation: 'release_after v2', passed: false, detail: 'the service runs v1.0.0' },
    ],
    timeline: [
      { at: t0 + 1_000, kind: 'fault', label: 'bad-release injected' },
      { at: t0 + 2_000, kind: 'sample', label: 'sample of v2', errorRate: 0.3, p95Ms: 20 },
      { at: t0 + 3_000, kind: 'decision', label: 'automatic decided' },
    ],
  };

  it('is one self-contained page: verdict, figures, a timeline chart, every expectation, escaped text', () => {
    const html = drillReportHtml(card);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script|<link|src="http/);
    expect(html).toContain('<span class="verdict">FAILED</span>');
    expect(html).toContain('time to detect<b>2.0 s</b>');
    expect(html).toMatch(/<svg[^>]*aria-label="Timeline of the drill"/);
    expect(html).toContain('bad-release injected');
    expect(html).toContain('<td class="fail">FAIL</td><td>release_after v2</td><td>the service runs v1.0.0</td>');
    expect(html).toContain('A &lt;bad&gt; release');
  });

  it('of an aborted run says not judged, expectation by expectation, with the reason', () => {
    const aborted: Scorecard = {
      ...card,
      outcome: 'aborted',
      abortReason: 'interrupted (Ctrl-C)',
      expectations: [notJudged({ expect: 'healthy_after' }, 'interrupted (Ctrl-C)')],
    };
    const html = drillReportHtml(aborted);
    expect(html).toContain('<p class="fail">Aborted: interrupted (Ctrl-C)</p>');
    expect(html).toContain('expectations<b>not judged</b>');
    expect(html).toContain(
      '<td class="not-judged">NOT JUDGED</td><td>healthy_after</td>' +
        '<td>not judged: the run was aborted (interrupted (Ctrl-C))</td>',
    );
    expect(trendTable([aborted])).toMatch(/aborted .* not judged {2}run-1$/);
  });

  it('shows a trend, one run a line', () => {
    expect(
      trendTable([
        card,
        { ...card, runId: 'run-2', outcome: 'passed', startedAt: '2026-12-01T03:00:00.000Z', timeToDetectMs: 1_500 },
      ]).split('\n'),
    ).toEqual([
      '2026-11-24 10:00  failed   detect   2.0 s  recover   3.1 s  1/2 met  run-1',
      '2026-12-01 03:00  passed   detect   1.5 s  recover   3.1 s  1/2 met  run-2',
    ]);
  });
});
