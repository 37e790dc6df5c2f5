import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStream } from '../application/command-handler.js';
import { serviceDecider } from '../domain/service-decider.js';
import { isRollbackActive } from '../domain/service.js';
import { collect } from '../event-store/event-store.contract.js';
import { ProcessDriver } from '../drivers/process-driver.js';
import { encodeEvent } from '../events/catalogue.js';
import { runDrill } from './drill-runner.js';
import { drillsDir, missingDrillTools, short, startDrillBench, type DrillBench } from './drill.fixture.js';
import { toolCount } from './drill-mcp-client.js';
import type { Scorecard } from './scorecard.js';
import { drillStream, serviceStream } from '../domain/streams.js';

const missing = missingDrillTools();
const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin', 'failsafe.js');

/**
 * The k6 processes loading one drill run's own Toxiproxy address (from its prepare step): the run
 * must leave none. Matched by target, since other drill tests' k6 may run beside this file's.
 */
async function k6Left(store: DrillBench['store'], runId: string): Promise<string[]> {
  const prepared = (await collect(store.readStream(drillStream(runId)))).find(
    (e) => e.type === 'DrillStepRecorded' && e.data.step === 'prepare' && e.data.status === 'passed',
  );
  const listen = / on (127\.0\.0\.1:\d+) in front of /.exec(String(prepared?.data.detail))?.[1];
  expect(listen, 'the run recorded its Toxiproxy address').toBeDefined();
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((pid) => {
      try {
        const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'k6' &&
          environ.includes(`TARGET_URL=http://${listen}/mcp`)
          ? [pid]
          : [];
      } catch {
        return [];
      }
    });
}

/** `failsafe drill run <drill>` as a real process against the bench, its output gathered as it comes. */
function drillProcess(bench: DrillBench, drill: string) {
  const args = ['drill', 'run', drill, '--drills', drillsDir, '--fleet', bench.fleetPath, '--data-dir', bench.dataDir];
  const child = spawn(process.execPath, [bin, ...args, '--toxiproxy-url', bench.toxiproxy.url]);
  let output = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const take = (chunk: Buffer) => {
    output += chunk.toString();
    for (const waiter of waiters.filter((w) => w.pattern.test(output))) waiter.resolve();
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => output,
    /** Resolves once the output matches `pattern`; fails if the process exits first. */
    until: (pattern: RegExp) =>
      Promise.race([
        new Promise<void>((resolve) => waiters.push({ pattern, resolve })),
        exited.then((code) => {
          if (!pattern.test(output)) throw new Error(`exited with ${code} before ${pattern}:\n${output}`);
        }),
      ]),
  };
}

/** A drills folder with one shipped drill, its load script beside it as in the repository. */
function drillsFolderWith(drill: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'failsafe-drills-'));
  mkdirSync(join(dir, 'drills'));
  copyFileSync(join(drillsDir, `${drill}.yaml`), join(dir, 'drills', `${drill}.yaml`));
  symlinkSync(join(root, 'loadtests'), join(dir, 'loadtests'));
  return join(dir, 'drills');
}

/** What an aborted run must leave: an ABORTED scorecard, DrillFinished, no toxic, no k6, the target as it was. */
async function expectCleanAbort(bench: DrillBench, output: string, signal: string) {
  const runId = /\((run-\w+)\) on sample/.exec(output)![1]!;
  const card = JSON.parse(readFileSync(join(bench.dataDir, 'drills', runId, 'scorecard.json'), 'utf8')) as Scorecard;
  expect([card.outcome, card.abortReason]).toEqual(['aborted', `interrupted by ${signal}`]);
  const events = await collect(bench.store.readStream(drillStream(runId)));
  expect(events.at(-1)).toMatchObject({
    type: 'DrillFinished',
    data: { outcome: 'aborted', abortReason: `interrupted by ${signal}` },
  });
  expect(events.find((e) => e.type === 'DrillStepRecorded' && e.data.step === 'cleanup')?.data.status).toBe('passed');
  expect(await bench.toxiproxy.toxics('sample-to-inventory')).toEqual([]);
  const { state } = await loadStream(bench.store, serviceStream('sample'), serviceDecider);
  expect(state.disabledTools).toEqual([]);
  expect(await toolCount(`${bench.targetAddress}/mcp`)).toBe(5);
  expect(await k6Left(bench.store, runId)).toEqual([]);
  return state;
}

let bench: DrillBench;
beforeAll(async () => {
  if (missing.length === 0) bench = await startDrillBench();
}, 60_000);
afterAll(async () => {
  await bench?.stop();
});

describe.skipIf(missing.length > 0)('drills leave nothing behind (real sample fleet, Toxiproxy, k6)', () => {
  it('SIGTERM once a tool of a bad release is disabled: tool enabled, release restored, exit 2', async () => {
    const run = drillProcess(bench, 'circuit-breaker');
    await run.until(/tool refund disabled/);
    run.child.kill('SIGTERM');
    expect(await run.exited, run.output()).toBe(2);
    const state = await expectCleanAbort(bench, run.output(), 'SIGTERM');
    expect(state.currentRelease).toBe('v1.0.0');
  }, 200_000);

  it('two drills back to back on one serve pass: the first leaves no decision to the second', async () => {
    const cards: Scorecard[] = [];
    const lines: string[] = [];
    for (const drill of [short('dependency-latency'), short('high-error-rate')])
      cards.push(await runDrill(drill, { ...bench, log: (line) => lines.push(line) }));
    expect(
      cards.map((c) => [c.drill, c.outcome, c.abortReason, c.expectations.filter((e) => !e.passed)]),
      lines.join('\n'),
    ).toEqual([
      ['dependency-latency', 'passed', undefined, []],
      ['high-error-rate', 'passed', undefined, []],
    ]);
    const { state } = await loadStream(bench.store, serviceStream('sample'), serviceDecider);
    expect(isRollbackActive(state)).toBe(false);
  }, 300_000);

  it('a manual rollback a drill left unapproved is rejected at cleanup: the next drill is not blocked', async () => {
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);
    // No approver: the policy's manual decision on the stalled migration stays awaiting approval.
    const unapproved = await runDrill(short('stalled-migration'), { ...bench, approver: undefined, log });
    expect(unapproved.outcome).toBe('failed');
    const next = await runDrill(short('high-error-rate'), { ...bench, log });
    expect([next.outcome, next.abortReason], lines.join('\n')).toEqual(['passed', undefined]);
    expect(lines.join('\n')).toMatch(/cleanup: manual rollback rb-\w+ \(awaiting_approval\) rejected/);
  }, 300_000);

  it('SIGTERM to serve during a drill it runs: the drill is aborted and cleaned up before serve exits', async () => {
    // A bench of its own, whose fleet a real `failsafe serve --drills` process adopts.
    const own = await startDrillBench();
    await own.plane.stop();
    const drills = drillsFolderWith('dependency-latency');
    const policy = join(own.dataDir, '..', 'policy.yaml');
    const args = ['serve', '--data-dir', own.dataDir, '--fleet', own.fleetPath, '--policy', policy];
    const serve = spawn(process.execPath, [bin, ...args, '--drills', drills, '--port', '0', '--tick-seconds', '1']);
    let output = '';
    serve.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    serve.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => serve.once('exit', (code) => resolve(code)));
    try {
      const runId = 'run-served';
      const requested = { runId, drill: 'dependency-latency', requestedBy: 'sre' };
      const event = encodeEvent({ type: 'DrillRequested', data: requested }, { actor: 'sre', occurredAt: new Date() });
      for (let i = 0; i < 300 && !/drills: scheduled from/.test(output); i += 1) await sleep(100);
      await own.store.append(drillStream(runId), [event], 'no_stream');
      const injected = async () =>
        (await collect(own.store.readStream(drillStream(runId)))).some((e) => e.type === 'DrillFaultInjected');
      for (let i = 0; i < 1200 && !(await injected()); i += 1) await sleep(100);
      serve.kill('SIGTERM');
      expect(await exited, output).toBe(0);
      const events = await collect(own.store.readStream(drillStream(runId)));
      expect(events.at(-1)).toMatchObject({
        type: 'DrillFinished',
        data: { outcome: 'aborted', abortReason: 'Failsafe is shutting down' },
      });
      expect(events.map((e) => e.type)).toContain('DrillFaultHealed');
      expect(events.find((e) => e.type === 'DrillStepRecorded' && e.data.step === 'cleanup')?.data.status).toBe(
        'passed',
      );
      const card = JSON.parse(readFileSync(join(own.dataDir, 'drills', runId, 'scorecard.json'), 'utf8')) as Scorecard;
      expect([card.outcome, card.abortReason]).toEqual(['aborted', 'Failsafe is shutting down']);
      expect(await k6Left(own.store, runId)).toEqual([]);
    } finally {
      if (serve.exitCode === null) serve.kill('SIGKILL');
      await own.store.close();
      await ProcessDriver.stopAllRecorded(join(own.dataDir, 'fleet'));
      for (const dir of [join(drills, '..'), join(own.dataDir, '..')]) rmSync(dir, { recursive: true, force: true });
    }
  }, 200_000);

  // Last: the slow requests it leaves in the window can tip the manual P95 rule (over 2 s in 5 min) after
  // its cleanup, and a manual rollback that awaits approval rightly stops the next drill on this bench.
  it('Ctrl-C in the faults: exit 2, ABORTED scorecard, DrillFinished, toxic removed, no k6 left', async () => {
    const run = drillProcess(bench, 'dependency-latency');
    await run.until(/fault slow-dependency: latency .* injected on sample-to-inventory/);
    expect(await bench.toxiproxy.toxics('sample-to-inventory')).toEqual(['drill-slow-dependency']);
    await sleep(2000); // k6 under way: stopped once, it still writes its summary
    run.child.kill('SIGINT');
    await run.until(/SIGINT: cleaning up, please wait/);
    // A second Ctrl-C while cleaning up is told to wait; it does not cut the cleanup short.
    setTimeout(() => run.child.exitCode === null && run.child.kill('SIGINT'), 300);
    expect(await run.exited, run.output()).toBe(2);
    const state = await expectCleanAbort(bench, run.output(), 'SIGINT');
    expect(state.currentRelease).toBe('v1.1.0');
    expect(run.output()).toMatch(/load during: \d+ requests/);
  }, 150_000);
});
