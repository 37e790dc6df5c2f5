import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolsDir } from '../tools/tools-dir.js';
import { K6_VERSION } from './k6.js';
import { TOXIPROXY_VERSION } from './toxiproxy.js';
import { collect } from '../event-store/event-store.contract.js';
import type { Drill } from './drill-file.js';
import { drillStream, runDrill } from './drill-runner.js';
import { drillsDir, short, startDrillBench, type DrillBench } from './drill.fixture.js';
import type { Scorecard } from './scorecard.js';

const tools = [
  join(toolsDir(), `k6-${K6_VERSION}`, 'k6'),
  join(toolsDir(), `toxiproxy-server-${TOXIPROXY_VERSION}`, 'toxiproxy-server'),
];
const missing = tools.filter((tool) => !existsSync(tool));
if (missing.length > 0 && process.env.CI === 'true')
  throw new Error(`the drills need the real k6 and Toxiproxy: ${missing.join(', ')} missing; run scripts/provision.sh`);

const bin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));
const failsafe = (args: string[]): Promise<{ status: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ status: error ? Number(error.code ?? -1) : 0, stdout, stderr }),
    );
  });

let bench: DrillBench;
let lines: string[] = [];
beforeAll(async () => {
  if (missing.length === 0) bench = await startDrillBench();
}, 60_000);
afterAll(async () => {
  await bench?.stop();
});

const run = async (drill: Drill): Promise<Scorecard> => {
  lines = [];
  return runDrill(drill, {
    store: bench.store,
    toxiproxy: bench.toxiproxy,
    targetAddress: bench.targetAddress,
    approver: bench.approver,
    log: (l) => lines.push(l),
  });
};
const failures = (card: Scorecard) => card.expectations.filter((e) => !e.passed);

describe.skipIf(missing.length > 0)(
  'the shipped drills, short versions, against the real sample fleet, Toxiproxy and k6',
  () => {
    it('high-error-rate: the bad release is rolled back automatically', async () => {
      const card = await run(short('high-error-rate'));
      expect([card.abortReason, ...failures(card)], lines.join('\n')).toEqual([undefined]);
      expect(card.outcome).toBe('passed');
      expect(card.timeToDetectMs).toBeLessThan(30_000);
      expect(card.timeToRecoverMs).toBeLessThan(60_000);
      expect(card.load.during!.errorRate).toBeGreaterThan(0.05);
      expect(card.load.after!.errorRate).toBeLessThan(0.05);
      const types = (await collect(bench.store.readStream(drillStream(card.runId)))).map((e) => e.type);
      expect(types[0]).toBe('DrillStarted');
      expect(types).toEqual(expect.arrayContaining(['DrillFaultInjected', 'DrillExpectationEvaluated']));
      expect(types.at(-1)).toBe('DrillFinished');
    }, 150_000);

    it('dependency-latency: Toxiproxy latency pushes P95 past 5 s and the latency rule rolls back', async () => {
      // A toxic a crashed drill left behind is removed before the drill starts.
      await bench.toxiproxy.addToxic('sample-to-inventory', {
        name: 'drill-left-behind',
        type: 'timeout',
        stream: 'downstream',
        toxicity: 1,
        attributes: { timeout: 0 },
      });
      const card = await run(short('dependency-latency'));
      expect(lines).toContainEqual(
        expect.stringMatching(/removed toxics a previous drill left on sample-to-inventory: drill-left-behind/),
      );
      expect([card.abortReason, ...failures(card)], lines.join('\n')).toEqual([undefined]);
      expect(card.expectations[0]!.detail).toMatch(/latency_p95_critical/);
      expect(card.load.during!.p95Ms).toBeGreaterThan(5000);
      expect(await bench.toxiproxy.toxics('sample-to-inventory')).toEqual([]);
    }, 150_000);

    it('dependency-down: reset_peer then timeout fail the health checks and the health rule rolls back', async () => {
      const card = await run(short('dependency-down', 30_000));
      expect([card.abortReason, ...failures(card)], lines.join('\n')).toEqual([undefined]);
      expect(card.expectations[0]!.detail).toMatch(/health_check_failures/);
      expect(card.timeline.filter((t) => t.kind === 'fault').map((t) => t.label)).toEqual([
        'reset-dependency injected',
        'hang-dependency injected',
      ]);
      expect(await bench.toxiproxy.toxics('sample-to-inventory')).toEqual([]);
    }, 150_000);

    it('circuit-breaker: the failing tool is disabled and the release stays', async () => {
      const card = await run(short('circuit-breaker'));
      expect([card.abortReason, ...failures(card)], lines.join('\n')).toEqual([undefined]);
      expect(card.timeToRecoverMs).toBeDefined();
    }, 150_000);

    it('stalled-migration: a manual rollback is approved over MCP and the migration reverted', async () => {
      const card = await run(short('stalled-migration', 40_000));
      expect([card.abortReason, ...failures(card)], lines.join('\n')).toEqual([undefined]);
      expect(card.expectations[0]!.detail).toMatch(/migration_stalled/);
      expect(card.timeline.map((t) => t.label)).toContainEqual(
        expect.stringMatching(/approved by drill-approver over MCP 2026-07-28/),
      );
    }, 150_000);

    it('failsafe drill run: progress, the scorecard, the HTML report and the exit code for cron', async () => {
      // Asynchronously: the control plane the drill acts through runs in this very process.
      const cli = await failsafe([
        'drill',
        'run',
        'high-error-rate',
        '--drills',
        drillsDir,
        '--fleet',
        bench.fleetPath,
        '--data-dir',
        bench.dataDir,
        '--toxiproxy-url',
        bench.toxiproxy.url,
      ]);
      expect(cli.status, cli.stdout + cli.stderr).toBe(0);
      expect(cli.stdout).toMatch(/\[\s+\d+\.\d s\] steady-state: passed/);
      expect(cli.stdout).toMatch(/high-error-rate \(run-\w+\) PASSED/);
      const html = /^report: (.+)$/m.exec(cli.stdout)![1]!;
      expect(readFileSync(html, 'utf8')).toContain('<span class="verdict">PASSED</span>');
      const runId = /\((run-\w+)\) PASSED/.exec(cli.stdout)![1]!;
      const report = await failsafe(['drill', 'report', runId, '--data-dir', bench.dataDir]);
      expect(report.stdout).toMatch(/PASS rollback_decided \(automatic\) within 30\.0 s/);
      const list = await failsafe(['drill', 'list', '--drills', drillsDir, '--data-dir', bench.dataDir]);
      expect(list.stdout).toMatch(
        new RegExp(`high-error-rate\\s+0 3 1 \\* \\*\\s+next \\S+\\s+last passed at \\S+ \\(${runId}\\)`),
      );
    }, 150_000);

    it('a drill whose expectation is wrong fails, and its scorecard says which and why', async () => {
      const drill = short('high-error-rate');
      const card = await run({
        ...drill,
        expectations: [...drill.expectations, { expect: 'rollback_decided', mode: 'manual', within: 10_000 }],
      });
      expect([card.outcome, card.abortReason], lines.join('\n')).toEqual(['failed', undefined]);
      expect(failures(card)).toEqual([
        {
          expectation: 'rollback_decided (manual) within 10.0 s',
          passed: false,
          detail: expect.stringMatching(/^a automatic rollback was decided \(rule error_rate_critical\), not manual$/),
        },
      ]);
      const evaluated = (await collect(bench.store.readStream(drillStream(card.runId)))).filter(
        (e) => e.type === 'DrillExpectationEvaluated',
      );
      expect(evaluated.map((e) => e.data.passed)).toEqual([true, true, true, true, true, true, false]);
    }, 150_000);
  },
);
