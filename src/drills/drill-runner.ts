import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { WrongExpectedRevision } from '../event-store/errors.js';
import { decodeStored, encodeEvent } from '../events/catalogue.js';
import { systemClock } from '../runtime/clock.js';
import { cleanup } from './drill-cleanup.js';
import type { Drill } from './drill-file.js';
import { isWatched, observe } from './drill-observations.js';
import { faults, steadyState, verify } from './drill-phases.js';
import { prepare } from './drill-prepare.js';
import { DrillAborted, DrillRun, type DrillRunnerOptions } from './drill-run.js';
import {
  initialRunState,
  isOver,
  next,
  outcomeOf,
  type DrillRunState,
  type PhaseResult,
  type RunningPhase,
} from './drill-run-state.js';
import { sampleTimeline } from './drill-samples.js';
import { detectionAndRecovery, notJudged, type Scorecard } from './scorecard.js';
import { drillStream } from '../domain/streams.js';

export type { DrillRunnerOptions } from './drill-run.js';

/** Another runner already started this run (a request is run once, whichever Failsafe sees it first). */
export class DrillAlreadyStarted extends Error {
  readonly code = 'DRILL_ALREADY_STARTED';
  constructor(runId: string) {
    super(`DrillAlreadyStarted: run ${runId} was started by another runner`);
    this.name = 'DrillAlreadyStarted';
  }
}

const DONE: PhaseResult = { type: 'done' };
const PHASES: Record<RunningPhase, (run: DrillRun) => Promise<PhaseResult>> = {
  prepare: (run) => prepare(run).then(() => DONE),
  'steady-state': (run) => steadyState(run).then(() => DONE),
  faults: (run) => faults(run).then(() => DONE),
  verify: async (run) => ({ type: 'judged', passed: await verify(run) }),
};

/** Performs the phase a state stands for and says how it went: the only place the loop meets I/O. */
async function perform(run: DrillRun, state: DrillRunState): Promise<PhaseResult> {
  if (state.kind === 'cleanup') {
    await cleanup(run);
    return DONE;
  }
  if (state.kind !== 'running') return DONE;
  // Verify judges what happened, even late: past the timeout, only a signal stops it.
  const interrupted = run.interruption({ timeout: state.phase !== 'verify' });
  if (interrupted) {
    run.say(`aborted: ${interrupted}`);
    return { type: 'aborted', reason: interrupted };
  }
  try {
    return await PHASES[state.phase](run);
  } catch (error) {
    const reason =
      run.interruption({ timeout: false }) ??
      (error instanceof DrillAborted ? error.message : `the runner failed: ${(error as Error).message}`);
    run.say(`aborted: ${reason}`);
    return { type: 'aborted', reason };
  }
}

/** Records DrillStarted: the claim of the run, after its request (revision 0) or on a new stream, so it runs once. */
async function claim(drill: Drill, options: DrillRunnerOptions, runId: string, at: Date): Promise<void> {
  const started = {
    type: 'DrillStarted',
    data: {
      runId,
      drill: drill.drill,
      trigger: options.trigger ?? 'manual',
      ...(options.scheduledFor && { scheduledFor: options.scheduledFor }),
      runner: { host: hostname(), pid: process.pid },
    },
  } as const;
  try {
    const event = encodeEvent(started, { actor: `drill:${runId}`, occurredAt: at });
    await options.store.append(drillStream(runId), [event], options.requested ? 0n : 'no_stream');
  } catch (error) {
    if (error instanceof WrongExpectedRevision) throw new DrillAlreadyStarted(runId);
    throw error;
  }
}

/** Runs one drill end to end, as a state machine; always heals its faults and restores the target release. */
export async function runDrill(drill: Drill, options: DrillRunnerOptions): Promise<Scorecard> {
  const now = () => (options.clock ?? systemClock).now().getTime();
  const run = new DrillRun(drill, options, options.runId ?? `run-${randomUUID().slice(0, 8)}`, now);
  await claim(drill, options, run.runId, new Date(run.started));
  run.say(`drill ${drill.drill} (${run.runId}) on ${run.service}: ${drill.description}`);
  const scope = { service: run.service, migrationId: run.migrationId };
  const subscription = options.store.subscribe({ after: await options.store.headPosition() });
  const watching = (async () => {
    for await (const event of subscription) {
      if (!isWatched(event.stream, scope)) continue;
      const { seen, noticed } = observe(run.seen, decodeStored(event), scope);
      run.seen = seen;
      run.notice(noticed);
    }
  })();
  // Ctrl-C stops the load at once (k6 still writes its summary); the loop then cleans up.
  const stopLoads = () => run.loads.stopAll();
  options.signal?.addEventListener('abort', stopLoads, { once: true });
  let state = initialRunState;
  try {
    while (!isOver(state)) state = next(state, await perform(run, state));
  } finally {
    options.signal?.removeEventListener('abort', stopLoads);
    await run.loads.ended();
    await subscription.close();
    await watching;
  }
  return finish(run, state);
}

/** Records DrillFinished and turns the run into its scorecard. */
async function finish(run: DrillRun, state: DrillRunState): Promise<Scorecard> {
  const { drill, runId, service, timeline, started } = run;
  const { store } = run.options;
  const outcome = outcomeOf(state);
  const abortReason = state.kind === 'aborted' ? state.abortReason : undefined;
  const { timeToDetectMs, timeToRecoverMs } = run.observations ? detectionAndRecovery(run.observations) : {};
  await run.record({
    type: 'DrillFinished',
    data: {
      runId,
      outcome,
      ...(timeToDetectMs !== undefined && { timeToDetectMs }),
      ...(timeToRecoverMs !== undefined && { timeToRecoverMs }),
      ...(abortReason && { abortReason: abortReason.slice(0, 4000) }),
      service,
    },
  });
  timeline.push(...(await sampleTimeline(store, service, started)));
  timeline.sort((a, b) => a.at - b.at);
  const detected = timeToDetectMs !== undefined ? `, detected in ${(timeToDetectMs / 1000).toFixed(1)} s` : '';
  const recovered = timeToRecoverMs !== undefined ? `, recovered in ${(timeToRecoverMs / 1000).toFixed(1)} s` : '';
  run.say(`drill ${drill.drill}: ${outcome.toUpperCase()}${detected}${recovered}`);
  return {
    runId,
    drill: drill.drill,
    description: drill.description,
    service,
    outcome,
    ...(abortReason && { abortReason }),
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(run.now()).toISOString(),
    ...(timeToDetectMs !== undefined && { timeToDetectMs }),
    ...(timeToRecoverMs !== undefined && { timeToRecoverMs }),
    load: run.loads.summaries,
    expectations: abortReason ? drill.expectations.map((e) => notJudged(e, abortReason)) : run.verdicts,
    timeline,
  };
}
