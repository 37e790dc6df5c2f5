import { targetChecks } from './drill-checks.js';
import type { FaultPort } from './drill-faults.js';
import { settled, watchFor } from './drill-observations.js';
import { DrillAborted, type DrillRun } from './drill-run.js';
import { pause } from './drill-target.js';
import { judge } from './scorecard.js';

const percent = (ratio: number) => `${(ratio * 100).toFixed(1)} %`;

/** Before any fault: the service answers, lists its tools and serves the baseline load without errors. */
export async function steadyState(run: DrillRun): Promise<void> {
  const { steadyState: expected, load } = run.drill;
  await run.step('steady-state', 'started');
  const checks = targetChecks(run.proxyUrl);
  const problems: string[] = [];
  if (expected.healthy && !(await checks.healthy())) problems.push('/health is not OK');
  const tools = await checks.tools();
  if (tools < expected.minTools) problems.push(`tools/list lists ${tools} tools, fewer than ${expected.minTools}`);
  run.checkAbort();
  const baseline = await run.loads.run('before', load.before, `${run.proxyUrl}/mcp`);
  if (baseline.errorRate > expected.maxErrorRate)
    problems.push(`baseline error rate ${percent(baseline.errorRate)} is above ${percent(expected.maxErrorRate)}`);
  if (problems.length > 0) {
    await run.step('steady-state', 'failed', problems.join('; '));
    throw new DrillAborted(`the steady state does not hold before the drill: ${problems.join('; ')}`);
  }
  const figures = `baseline p95 ${baseline.p95Ms.toFixed(0)} ms, errors ${percent(baseline.errorRate)}`;
  await run.step('steady-state', 'passed', `healthy, ${tools} tools, ${figures}`);
}

export async function injectFault(run: DrillRun, fault: FaultPort): Promise<void> {
  const { fault: recorded, line } = await fault.inject();
  run.say(line);
  await run.record({ type: 'DrillFaultInjected', data: { runId: run.runId, fault: recorded } });
  run.timeline.push({ at: run.now(), kind: 'fault', label: `${fault.name} injected` });
}

export async function healFault(run: DrillRun, fault: FaultPort): Promise<void> {
  if (!(await fault.heal())) return;
  run.timeline.push({ at: run.now(), kind: 'heal', label: `${fault.name} healed` });
  run.say(`fault ${fault.name}: healed`);
  await run.record({ type: 'DrillFaultHealed', data: { runId: run.runId, name: fault.name } });
}

/** Injects (and heals) the faults on their schedule under load, until Failsafe did what is expected or time is up. */
export async function faults(run: DrillRun): Promise<void> {
  await run.step('faults', 'started');
  const faultAt = run.now();
  run.seen = { ...run.seen, faultAt };
  const during = run.loads.run('during', run.drill.load.during, `${run.proxyUrl}/mcp`);
  // Awaited below; when the phase is aborted before, a k6 failure must not crash the runner.
  during.catch(() => undefined);
  const plan = run.faults
    .flatMap((fault) => [
      { at: fault.at, act: () => injectFault(run, fault) },
      ...(fault.until !== undefined ? [{ at: fault.until, act: () => healFault(run, fault) }] : []),
    ])
    .sort((a, b) => a.at - b.at);
  const watchUntil =
    faultAt +
    watchFor(
      run.drill.expectations,
      plan.map((p) => p.at),
    );
  while (plan.length > 0 || (run.now() < watchUntil && !settled(run.drill.expectations, run.seen))) {
    run.checkAbort();
    while (plan.length > 0 && run.now() - faultAt >= plan[0]!.at) await plan.shift()!.act();
    await pause(100, run.options.signal);
  }
  // A toxic without `until` stays on through verification (healed at cleanup): the service is
  // judged restored while its fault still holds.
  run.loads.stopRunning();
  await during;
  await Promise.all(run.approvals);
  await run.step('faults', 'passed', `first fault at ${new Date(faultAt).toISOString()}`);
}

/** After the faults: judges every expectation against what was seen and how the service does now. */
export async function verify(run: DrillRun): Promise<boolean> {
  await run.step('verify', 'started');
  // Let a rollback in flight finish before judging the service after it.
  for (let i = 0; i < 100 && run.seen.rollbackStarted !== undefined && run.seen.completed === undefined; i += 1)
    await pause(200, run.options.signal);
  run.checkAbort({ timeout: false });
  await run.loads.run('after', run.drill.load.after, `${run.proxyUrl}/mcp`);
  const checks = targetChecks(run.proxyUrl);
  const after = await run.target.state();
  const { faultAt, decided, rollbackStarted, completed, disabledTools, migrationReverted, incident } = run.seen;
  run.observations = {
    ...{ faultAt, decided, rollbackStarted, completed, disabledTools, migrationReverted, incident },
    releaseAfter: after.currentRelease,
    healthyAfter: await checks.healthy(),
    toolsAfter: await checks.tools(),
    load: run.loads.summaries,
  };
  run.verdicts = run.drill.expectations.map((e) => judge(e, run.observations!));
  for (const v of run.verdicts) {
    run.say(`${v.passed ? 'PASS' : 'FAIL'} ${v.expectation}: ${v.detail}`);
    const data = { runId: run.runId, expectation: v.expectation.slice(0, 128), passed: v.passed, detail: v.detail };
    await run.record({ type: 'DrillExpectationEvaluated', data });
  }
  const passed = run.verdicts.every((v) => v.passed);
  await run.step('verify', passed ? 'passed' : 'failed');
  return passed;
}
