import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { saveScorecard } from '../drills/scorecard-files.js';
import { notJudged, type Scorecard } from '../drills/scorecard.js';

const bin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));
const failsafe = (args: string[]) => {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
};

const passed: Scorecard = {
  runId: 'run-1',
  drill: 'high-error-rate',
  description: 'A bad release',
  service: 'sample',
  outcome: 'passed',
  startedAt: '2026-11-24T10:00:00.000Z',
  finishedAt: '2026-11-24T10:01:00.000Z',
  timeToDetectMs: 4_000,
  timeToRecoverMs: 9_000,
  load: {},
  expectations: [{ expectation: 'healthy_after', passed: true, detail: '/health answered OK' }],
  timeline: [],
};
const aborted: Scorecard = {
  ...passed,
  runId: 'run-2',
  outcome: 'aborted',
  abortReason: 'interrupted (Ctrl-C)',
  startedAt: '2026-11-25T10:00:00.000Z',
  timeToDetectMs: undefined,
  timeToRecoverMs: undefined,
  expectations: [notJudged({ expect: 'healthy_after' }, 'interrupted (Ctrl-C)')],
};

describe('failsafe drill report', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'failsafe-report-'));
    saveScorecard(dataDir, passed);
    saveScorecard(dataDir, aborted);
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it("lists an aborted run's expectations as not judged, with the reason", () => {
    const { code, stdout } = failsafe(['drill', 'report', 'run-2', '--data-dir', dataDir]);
    expect(code).toBe(0);
    expect(stdout).toContain('high-error-rate (run-2) ABORTED: interrupted (Ctrl-C)');
    expect(stdout).toContain('  NOT JUDGED healthy_after: not judged: the run was aborted (interrupted (Ctrl-C))');
  });

  it('--trend prints the runs and draws MTTD and MTTR over them, with each outcome, in an HTML chart', () => {
    const { code, stdout } = failsafe(['drill', 'report', '--trend', 'high-error-rate', '--data-dir', dataDir]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/passed .* 1\/1 met {2}run-1\n.*aborted .* not judged {2}run-2\n/);
    const path = /^trend chart: (.+)$/m.exec(stdout)![1]!;
    expect(path).toBe(join(dataDir, 'drills', 'trend-high-error-rate.html'));
    const html = readFileSync(path, 'utf8');
    expect(html).toMatch(/<svg[^>]*aria-label="Detection and recovery times over runs"/);
    expect(html.match(/class="point"/g)).toHaveLength(2);
    expect(html.match(/<rect class="outcome"[^>]*fill="#[0-9a-f]+"/g)).toEqual([
      expect.stringContaining('fill="#2f9e68"'),
      expect.stringContaining('fill="#8a94a6"'),
    ]);
  });
});
