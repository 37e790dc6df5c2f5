import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadStream, handleCommand } from '../application/command-handler.js';
import { migrationDecider, migrationStream, type MigrationCommand } from '../domain/migration.js';
import { serviceDecider, serviceStream } from '../domain/service-decider.js';
import { isRollbackActive, type ServiceState } from '../domain/service.js';
import { WrongExpectedRevision } from '../event-store/errors.js';
import type { EventStore, RecordedEvent } from '../event-store/event-store.js';
import { decodeEvent, encodeEvent, type DomainEvent } from '../events/catalogue.js';
import type { Drill, DrillFault } from './drill-file.js';
import { runK6, type LoadRun, type LoadSummary } from './k6.js';
import { loadThresholds } from './load-thresholds.js';
import { approveThroughMcp, type McpApprover } from './mcp-approver.js';
import { sampleTimeline } from './drill-samples.js';
import { notJudged } from './scorecard.js';
import { detectionAndRecovery, judge, type Observations, type Scorecard, type TimelineEntry } from './scorecard.js';
import { freePort, type ToxiproxyControl } from './toxiproxy.js';
import { systemClock, type Clock } from '../runtime/clock.js';

export interface DrillRunnerOptions {
  readonly store: EventStore;
  readonly toxiproxy: ToxiproxyControl;
  /** The service's stable address (`http://127.0.0.1:<port>`); the drill puts Toxiproxy in front of it. */
  readonly targetAddress: string;
  readonly log: (line: string) => void;
  /** Ctrl-C: the drill stops where it is, and still cleans up. */
  readonly signal?: AbortSignal | undefined;
  readonly trigger?: 'manual' | 'schedule';
  readonly scheduledFor?: string | undefined;
  /** A run asked for through the API (DrillRequested) carries its id; the runner claims it (once). */
  readonly runId?: string | undefined;
  readonly requested?: boolean | undefined;
  readonly clock?: Clock;
  /** Who approves manual rollbacks for a drill with `approve: mcp`. */
  readonly approver?: McpApprover | undefined;
}

export const drillStream = (runId: string): string => `drill-${runId}`;

/** Ends early on Ctrl-C without throwing: the runner checks the signal itself, and still cleans up. */
const pause = (ms: number, signal?: AbortSignal) => sleep(ms, undefined, { signal }).catch(() => undefined);

/** Another runner already started this run (a request is run once, whichever Failsafe sees it first). */
export class DrillAlreadyStarted extends Error {
  readonly code = 'DRILL_ALREADY_STARTED';
  constructor(runId: string) {
    super(`DrillAlreadyStarted: run ${runId} was started by another runner`);
    this.name = 'DrillAlreadyStarted';
  }
}

class DrillAborted extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'DrillAborted';
  }
}

/** Runs one drill end to end; always heals its faults and restores the target release. */
export async function runDrill(drill: Drill, options: DrillRunnerOptions): Promise<Scorecard> {
  const { store, toxiproxy, log, signal } = options;
  const now = () => (options.clock ?? systemClock).now().getTime();
  const runId = options.runId ?? `run-${randomUUID().slice(0, 8)}`;
  const stream = drillStream(runId);
  const service = drill.target.service;
  const actor = `drill:${runId}`;
  const started = now();
  const timeline: TimelineEntry[] = [];
  const load: { before?: LoadSummary; during?: LoadSummary; after?: LoadSummary } = {};
  const proxyName = `drill-${drill.drill}`;
  /** Injected toxics still in place: fault name → the proxy it is on. */
  const activeToxics = new Map<string, string>();
  const proxyOf = (fault: Extract<DrillFault, { kind: 'toxic' }>) => fault.proxy ?? proxyName;
  /** Toxics on the fleet's own proxies carry this prefix, so that the next drill can find what a crashed one left. */
  const toxicName = (fault: DrillFault) => `drill-${fault.name}`;
  const runs: LoadRun[] = [];
  const clock = () => `[${((now() - started) / 1000).toFixed(1).padStart(6)} s]`;
  const say = (line: string) => log(`${clock()} ${line}`);

  const record = async (event: DomainEvent) => {
    await store.append(stream, [encodeEvent(event, { actor, occurredAt: new Date(now()) })], 'any');
  };
  const step = async (name: string, status: 'started' | 'passed' | 'failed' | 'skipped', detail?: string) => {
    timeline.push({ at: now(), kind: 'step', label: `${name} ${status}${detail ? `: ${detail}` : ''}` });
    say(`${name}: ${status}${detail ? ` — ${detail}` : ''}`);
    await record({
      type: 'DrillStepRecorded',
      data: { runId, step: name, status, ...(detail && { detail: detail.slice(0, 4000) }) },
    });
  };
  const checkAbort = () => {
    if (signal?.aborted) throw new DrillAborted('interrupted (Ctrl-C)');
    if (now() - started > drill.timeout)
      throw new DrillAborted(`the drill ran past its timeout of ${drill.timeout / 1000} s`);
  };
  const state = async (of = service): Promise<ServiceState> =>
    (await loadStream(store, serviceStream(of), serviceDecider)).state;

  /** Asks Failsafe to deploy a release and waits until it is healthy (or failed, or the time is up). */
  /** Asks Failsafe (its executor) to deploy a release; returns the deployment's id. */
  const requestDeployment = async (release: string, reason: string, of = service): Promise<string> => {
    const deploymentId = `d-${randomUUID().slice(0, 8)}`;
    await handleCommand(
      store,
      serviceStream(of),
      serviceDecider,
      { type: 'RequestDeployment', service: of, deploymentId, release, reason, now: new Date(now()) },
      { actor, now: new Date(now()) },
    );
    return deploymentId;
  };
  const deploy = async (release: string, waitMs: number, of = service): Promise<boolean> => {
    const deploymentId = await requestDeployment(release, `drill ${drill.drill} (${runId})`, of);
    const deadline = now() + waitMs;
    while (now() < deadline) {
      const deployment = (await state(of)).deployment;
      if (deployment?.id === deploymentId && deployment.status === 'healthy') return true;
      const ended = ['failed', 'cancelled', 'expired'].includes(deployment?.status ?? '');
      if (deployment?.id === deploymentId && ended) return false;
      await pause(200, signal);
      if (signal?.aborted) return false;
    }
    return false;
  };

  let proxyUrl = '';
  const healthy = async () => {
    try {
      return (await fetch(`${proxyUrl}/health`, { signal: AbortSignal.timeout(3000) })).ok;
    } catch {
      return false;
    }
  };
  const toolCount = async () => {
    try {
      const response = await fetch(`${proxyUrl}/mcp`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json, text/event-stream',
          'MCP-Protocol-Version': '2025-11-25',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
        signal: AbortSignal.timeout(5000),
      });
      const text = await response.text();
      const json = text.startsWith('{') ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? '{}');
      return ((JSON.parse(json) as { result?: { tools?: unknown[] } }).result?.tools ?? []).length;
    } catch {
      return 0;
    }
  };
  const startLoad = (phase: 'before' | 'during' | 'after', durationMs: number) => {
    const run = runK6(drill.scriptPath, {
      targetUrl: `${proxyUrl}/mcp`,
      rate: drill.load.rate,
      vus: drill.load.vus,
      tools: drill.load.tools,
      durationMs,
      thresholds: loadThresholds(drill, phase),
    });
    runs.push(run);
    return run.done.then((summary) => {
      load[phase] = summary;
      say(
        `load ${phase}: ${summary.requests} requests, p95 ${summary.p95Ms.toFixed(0)} ms, ` +
          `errors ${(summary.errorRate * 100).toFixed(1)} %`,
      );
      return summary;
    });
  };
  const heal = async (name: string) => {
    const proxy = activeToxics.get(name);
    if (proxy === undefined) return;
    activeToxics.delete(name);
    await toxiproxy.removeToxic(proxy, `drill-${name}`);
    timeline.push({ at: now(), kind: 'heal', label: `${name} healed` });
    say(`fault ${name}: healed`);
    await record({ type: 'DrillFaultHealed', data: { runId, name } });
  };
  /** The migration a migration_stall fault creates: one per run. */
  const migrationId = `drill-${runId}`;
  let migrationStarted = false;
  const migrate = (command: MigrationCommand) =>
    handleCommand(store, migrationStream(migrationId), migrationDecider, command, { actor, now: new Date(now()) });
  const approvals: Promise<void>[] = [];
  const approve = (rollbackId: string) => {
    if (!options.approver) {
      say(
        `a manual rollback (${rollbackId}) needs approval and this run has no approver: ` +
          "pass Failsafe's MCP URL and an approver token",
      );
      return;
    }
    approvals.push(
      approveThroughMcp(options.approver, service, rollbackId).then(
        (how) => {
          timeline.push({ at: now(), kind: 'step', label: `rollback ${rollbackId} ${how}` });
          say(`rollback ${rollbackId} ${how}`);
        },
        (error: Error) => say(`approval of ${rollbackId} failed: ${error.message}`),
      ),
    );
  };
  const inject = async (fault: DrillFault) => {
    if (fault.kind === 'toxic') {
      await toxiproxy.addToxic(proxyOf(fault), {
        name: toxicName(fault),
        type: fault.toxic.type,
        stream: fault.stream,
        toxicity: fault.toxicity,
        attributes: fault.toxic.attributes,
      });
      activeToxics.set(fault.name, proxyOf(fault));
      say(
        `fault ${fault.name}: ${fault.toxic.type} ${JSON.stringify(fault.toxic.attributes)} ` +
          `injected on ${proxyOf(fault)}`,
      );
      await record({
        type: 'DrillFaultInjected',
        data: {
          runId,
          fault: { kind: 'toxic', name: fault.name, toxicType: fault.toxic.type, attributes: fault.toxic.attributes },
        },
      });
    } else if (fault.kind === 'migration_stall') {
      const [first, second] = fault.stages as [string, string];
      say(`fault ${fault.name}: migration ${migrationId} started, moved to ${second}, then left stalled`);
      await record({
        type: 'DrillFaultInjected',
        data: {
          runId,
          fault: { kind: 'migration', name: fault.name, attributes: { migrationId, stages: fault.stages } },
        },
      });
      await migrate({
        type: 'StartMigration',
        migrationId,
        service,
        name: `drill ${drill.drill}`,
        stages: fault.stages,
        initialStage: first,
      });
      await migrate({ type: 'AdvanceMigrationStage', migrationId, toStage: second });
      await migrate({ type: 'RecordMigrationProgress', migrationId, progress: 0.4, errorRate: 0 });
      migrationStarted = true;
    } else {
      say(`fault ${fault.name}: deploying the bad release ${fault.release}`);
      await record({
        type: 'DrillFaultInjected',
        data: { runId, fault: { kind: 'release', name: fault.name, attributes: { release: fault.release } } },
      });
      await requestDeployment(fault.release, `drill ${drill.drill} fault ${fault.name}`);
    }
    timeline.push({ at: now(), kind: 'fault', label: `${fault.name} injected` });
  };

  const seen: {
    faultAt: number;
    decided?: Observations['decided'];
    rollbackStarted?: number;
    completed?: number;
    migrationReverted?: number;
    disabledTools: { tool: string; at: number }[];
  } = {
    faultAt: 0,
    disabledTools: [],
  };
  let releaseRollback: string | undefined;
  const watch = (event: RecordedEvent) => {
    if (event.stream !== serviceStream(service) && event.stream !== migrationStream(migrationId)) return;
    const at = event.recordedAt.getTime();
    const typed = decodeEvent(event);
    if (
      typed.type === 'MigrationReverted' &&
      typed.data.migrationId === migrationId &&
      seen.migrationReverted === undefined
    ) {
      seen.migrationReverted = at;
      timeline.push({ at, kind: 'recovery', label: `migration reverted to ${typed.data.toStage}` });
      say(`migration ${migrationId} reverted: ${typed.data.fromStage} → ${typed.data.toStage}`);
      return;
    }
    if (event.stream !== serviceStream(service)) return;
    if (typed.type === 'RollbackDecided' && !seen.decided) {
      seen.decided = { at, mode: typed.data.mode, rule: typed.data.rule };
      if (typed.data.mode === 'manual' && drill.approve === 'mcp') approve(typed.data.rollbackId);
      timeline.push({
        at,
        kind: 'decision',
        label: `${typed.data.mode} decided by ${typed.data.rule} (observed ${typed.data.observed})`,
      });
      say(
        `Failsafe decided: ${typed.data.mode} rollback, rule ${typed.data.rule}, ` +
          `observed ${typed.data.observed} (threshold ${typed.data.threshold})`,
      );
    } else if (
      typed.type === 'RollbackStarted' &&
      seen.rollbackStarted === undefined &&
      typed.data.fromRelease !== typed.data.toRelease
    ) {
      // A rollback to another release (disabling a tool restarts the same release: not one).
      seen.rollbackStarted = at;
      releaseRollback = typed.data.rollbackId;
      say(`rollback started: ${typed.data.fromRelease} → ${typed.data.toRelease}`);
    } else if (
      typed.type === 'RollbackCompleted' &&
      seen.completed === undefined &&
      typed.data.rollbackId === releaseRollback
    ) {
      seen.completed = at;
      timeline.push({ at, kind: 'recovery', label: `rollback completed: ${typed.data.release} serves` });
      say(`rollback completed: ${typed.data.release} serves again`);
    } else if (typed.type === 'FeatureDisabled' && typed.data.scope === 'tool' && typed.data.target) {
      seen.disabledTools.push({ tool: typed.data.target, at });
      timeline.push({ at, kind: 'recovery', label: `tool ${typed.data.target} disabled` });
      say(`tool ${typed.data.target} disabled`);
    }
  };

  let outcome: Scorecard['outcome'] = 'aborted';
  let abortReason: string | undefined;
  let verdicts: Scorecard['expectations'] = [];
  let observations: Observations | undefined;
  try {
    // The claim: after its request (revision 0) or on a new stream, so that a run starts once.
    const started = {
      type: 'DrillStarted',
      data: {
        runId,
        drill: drill.drill,
        trigger: options.trigger ?? 'manual',
        ...(options.scheduledFor && { scheduledFor: options.scheduledFor }),
      },
    } as const;
    await store.append(
      stream,
      [encodeEvent(started, { actor, occurredAt: new Date(now()) })],
      options.requested ? 0n : 'no_stream',
    );
  } catch (error) {
    if (error instanceof WrongExpectedRevision) throw new DrillAlreadyStarted(runId);
    throw error;
  }
  say(`drill ${drill.drill} (${runId}) on ${service}: ${drill.description}`);
  const subscription = store.subscribe({ after: await store.headPosition() });
  const watching = (async () => {
    for await (const event of subscription) watch(event);
  })();
  try {
    await step('prepare', 'started');
    const target = new URL(options.targetAddress);
    const listen = `127.0.0.1:${await freePort()}`;
    // Created afresh: a proxy (and its toxics) left by a crashed drill is removed first.
    await toxiproxy.proxy(proxyName, listen, `${target.hostname}:${target.port}`);
    proxyUrl = `http://${listen}`;
    for (const fault of drill.faults) {
      if (fault.kind !== 'toxic' || !fault.proxy) continue;
      const stale = await toxiproxy.removeToxics(fault.proxy, 'drill-');
      if (stale.length > 0) say(`removed toxics a previous drill left on ${fault.proxy}: ${stale.join(', ')}`);
    }
    for (const [dependency, release] of Object.entries(drill.target.dependencies)) {
      const running = await state(dependency);
      if (running.currentRelease === release && running.currentReleaseHealthy) continue;
      if (!(await deploy(release, 90_000, dependency)))
        throw new DrillAborted(
          `could not bring the dependency ${dependency} to ${release}; is it in the fleet \`failsafe serve\` runs?`,
        );
    }
    // A rollback still under way (a previous drill's, say) blocks deployments: let it end first.
    for (
      let waited = 0, blocking = await state();
      isRollbackActive(blocking);
      waited += 500, blocking = await state()
    ) {
      const { id, status, mode } = blocking.rollback!;
      if (status === 'awaiting_approval')
        throw new DrillAborted(`${mode} rollback ${id} of ${service} awaits approval: approve or reject it first`);
      if (waited === 0) say(`waiting for rollback ${id} of ${service} (${status}) to end`);
      if (waited >= 120_000)
        throw new DrillAborted(
          `rollback ${id} of ${service} has been ${status} for over 2 minutes; see \`failsafe status ${service}\``,
        );
      checkAbort();
      await pause(500, signal);
    }
    const current = await state();
    const { previous } = drill.target;
    const ready =
      current.currentRelease === drill.target.release &&
      current.currentReleaseHealthy &&
      (!previous || current.lastKnownGood === previous);
    if (!ready) {
      const bringTo = async (release: string) => {
        if (!(await deploy(release, 90_000)))
          throw new DrillAborted(
            `could not bring ${service} to ${release}; is \`failsafe serve --fleet\` running on this data folder?`,
          );
      };
      if (previous && current.currentRelease !== previous) await bringTo(previous);
      await bringTo(drill.target.release);
    }
    await step(
      'prepare',
      'passed',
      `Toxiproxy ${proxyName} on ${listen} in front of ${target.host}; ${service} runs ${drill.target.release}`,
    );
    checkAbort();

    await step('steady-state', 'started');
    const problems: string[] = [];
    if (drill.steadyState.healthy && !(await healthy())) problems.push('/health is not OK');
    const tools = await toolCount();
    if (tools < drill.steadyState.minTools)
      problems.push(`tools/list lists ${tools} tools, fewer than ${drill.steadyState.minTools}`);
    const baseline = await startLoad('before', drill.load.before);
    if (baseline.errorRate > drill.steadyState.maxErrorRate)
      problems.push(
        `baseline error rate ${(baseline.errorRate * 100).toFixed(1)} % ` +
          `is above ${(drill.steadyState.maxErrorRate * 100).toFixed(1)} %`,
      );
    if (problems.length > 0) {
      await step('steady-state', 'failed', problems.join('; '));
      throw new DrillAborted(`the steady state does not hold before the drill: ${problems.join('; ')}`);
    }
    await step(
      'steady-state',
      'passed',
      `healthy, ${tools} tools, baseline p95 ${baseline.p95Ms.toFixed(0)} ms, ` +
        `errors ${(baseline.errorRate * 100).toFixed(1)} %`,
    );
    checkAbort();

    await step('faults', 'started');
    seen.faultAt = now();
    const during = startLoad('during', drill.load.during);
    const plan = drill.faults.flatMap((fault) => [
      { at: fault.at, run: () => inject(fault) },
      ...(fault.kind === 'toxic' && fault.until !== undefined
        ? [{ at: fault.until, run: () => heal(fault.name) }]
        : []),
    ]);
    plan.sort((a, b) => a.at - b.at);
    const waits = drill.expectations.map((e) => ('within' in e ? e.within : 'during' in e ? e.during : 0));
    const watchUntil = seen.faultAt + Math.max(...waits, ...plan.map((p) => p.at));
    const settled = () =>
      drill.expectations.every((e) => {
        if (e.expect === 'rollback_decided') return seen.decided !== undefined;
        if (e.expect === 'rollback_completed') return seen.completed !== undefined;
        if (e.expect === 'tool_disabled') return seen.disabledTools.some((d) => d.tool === e.tool);
        if (e.expect === 'migration_reverted') return seen.migrationReverted !== undefined;
        return !('within' in e) && !('during' in e);
      });
    while (plan.length > 0 || (now() < watchUntil && !settled())) {
      checkAbort();
      while (plan.length > 0 && now() - seen.faultAt >= plan[0]!.at) await plan.shift()!.run();
      await pause(100, signal);
    }
    // A toxic without `until` stays on through verification (healed at cleanup): the service is
    // judged restored while its fault still holds.
    for (const run of runs) run.stop();
    await during;
    await Promise.all(approvals);
    await step('faults', 'passed', `first fault at ${new Date(seen.faultAt).toISOString()}`);

    await step('verify', 'started');
    // Let a rollback in flight finish before judging the service after it.
    for (let i = 0; i < 100 && seen.rollbackStarted !== undefined && seen.completed === undefined; i += 1)
      await pause(200, signal);
    await startLoad('after', drill.load.after);
    const after = await state();
    observations = {
      ...seen,
      releaseAfter: after.currentRelease,
      healthyAfter: await healthy(),
      toolsAfter: await toolCount(),
      load,
    };
    verdicts = drill.expectations.map((e) => judge(e, observations!));
    for (const v of verdicts) {
      say(`${v.passed ? 'PASS' : 'FAIL'} ${v.expectation}: ${v.detail}`);
      await record({
        type: 'DrillExpectationEvaluated',
        data: { runId, expectation: v.expectation.slice(0, 128), passed: v.passed, detail: v.detail },
      });
    }
    outcome = verdicts.every((v) => v.passed) ? 'passed' : 'failed';
    await step('verify', outcome === 'passed' ? 'passed' : 'failed');
  } catch (error) {
    abortReason = error instanceof DrillAborted ? error.message : `the runner failed: ${(error as Error).message}`;
    say(`aborted: ${abortReason}`);
    verdicts = drill.expectations.map((e) => notJudged(e, abortReason!));
  } finally {
    for (const run of runs) run.stop();
    try {
      for (const name of [...activeToxics.keys()]) await heal(name);
      await toxiproxy.removeProxy(proxyName);
      if (migrationStarted) {
        // The drill's own migration is closed, or its stall would be found again after the drill.
        const { state: migration } = await loadStream(store, migrationStream(migrationId), migrationDecider);
        const stages = migration.stages ?? [];
        for (const stage of stages.slice(stages.indexOf(migration.stage ?? stages[0]!) + 1))
          await migrate({ type: 'AdvanceMigrationStage', migrationId, toStage: stage });
        if (migration.status !== 'completed') await migrate({ type: 'CompleteMigration', migrationId });
        say(`cleanup: migration ${migrationId} closed`);
      }
      // Tools Failsafe disabled during the drill are enabled again: the target as it was.
      for (const tool of new Set(seen.disabledTools.map((d) => d.tool))) {
        await handleCommand(
          store,
          serviceStream(service),
          serviceDecider,
          {
            type: 'EnableFeature',
            service,
            scope: 'tool',
            target: tool,
            reason: `drill ${drill.drill} (${runId}) restores the target`,
          },
          { actor, now: new Date(now()) },
        );
        say(`cleanup: tool ${tool} enabled again`);
      }
      const after = await state();
      if (after.currentRelease !== drill.target.release && !isRollbackActive(after)) {
        say(`cleanup: restoring ${drill.target.release}`);
        await deploy(drill.target.release, 90_000);
      }
      await step('cleanup', 'passed');
    } catch (error) {
      await step('cleanup', 'failed', (error as Error).message);
    }
    await subscription.close();
    await watching;
  }
  const { timeToDetectMs, timeToRecoverMs } = observations ? detectionAndRecovery(observations) : {};
  await record({
    type: 'DrillFinished',
    data: {
      runId,
      outcome,
      ...(timeToDetectMs !== undefined && { timeToDetectMs }),
      ...(timeToRecoverMs !== undefined && { timeToRecoverMs }),
    },
  });
  timeline.push(...(await sampleTimeline(store, service, started)));
  timeline.sort((a, b) => a.at - b.at);
  const detected = timeToDetectMs !== undefined ? `, detected in ${(timeToDetectMs / 1000).toFixed(1)} s` : '';
  const recovered = timeToRecoverMs !== undefined ? `, recovered in ${(timeToRecoverMs / 1000).toFixed(1)} s` : '';
  say(`drill ${drill.drill}: ${outcome.toUpperCase()}${detected}${recovered}`);
  return {
    runId,
    drill: drill.drill,
    description: drill.description,
    service,
    outcome,
    ...(abortReason && { abortReason }),
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(now()).toISOString(),
    ...(timeToDetectMs !== undefined && { timeToDetectMs }),
    ...(timeToRecoverMs !== undefined && { timeToRecoverMs }),
    load,
    expectations: verdicts,
    timeline,
  };
}
