import { hostname } from 'node:os';
import { WrongExpectedRevision } from '../event-store/errors.js';
import type { EventStore, ExpectedRevision } from '../event-store/event-store.js';
import { decodeStored, encodeEvent, type EventData } from '../events/catalogue.js';
import { drillStream } from '../domain/streams.js';

/** A run that started and has not finished. */
export interface OpenRun {
  readonly runId: string;
  readonly startedAt: number;
  readonly runner?: EventData<'DrillStarted'>['runner'];
  /** The run stream's last revision: the run is closed only if nothing was recorded since. */
  readonly revision: bigint;
}

/** No drill runs this long (the longest timeout is minutes): an older open run's runner is gone, wherever it ran. */
export const STALE_AFTER_MS = 60 * 60_000;

const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Why a run's runner is gone, or undefined while it may still run. */
export function goneBecause(run: OpenRun, now: number, here = hostname(), alive = processAlive): string | undefined {
  if (run.runner?.host === here && !alive(run.runner.pid))
    return `its runner (pid ${run.runner.pid} on ${here}) is gone`;
  if (now - run.startedAt > STALE_AFTER_MS)
    return `it started ${Math.round((now - run.startedAt) / 60_000)} min ago and never finished`;
  return undefined;
}

/** Where the sweeps record how far they have read (DrillRunsSwept). */
export const SWEPT_STREAM = 'drill-runs-swept';
/** More open runs than this are not recorded (DrillRunsSwept's bound): the next sweep reads from the last position. */
const MAX_OPEN = 10_000;

/** The runs open as of `position`, and the sweep stream's revision to append the next sweep at. */
interface Sweep {
  readonly position: bigint | undefined;
  readonly open: Map<string, OpenRun>;
  readonly revision: ExpectedRevision;
}

async function lastSweep(store: EventStore): Promise<Sweep> {
  for await (const recorded of store.readStream(SWEPT_STREAM, { direction: 'backwards', maxCount: 1 })) {
    const event = decodeStored(recorded);
    if (event.type !== 'DrillRunsSwept') break;
    const open = event.data.open.map((r) => ({ ...r, revision: BigInt(r.revision) }));
    return {
      position: BigInt(event.data.position),
      open: new Map(open.map((r) => [r.runId, r])),
      revision: recorded.revision,
    };
  }
  return { position: undefined, open: new Map(), revision: 'no_stream' };
}

/**
 * The runs with DrillStarted and no DrillFinished: those the last sweep left open, updated with what
 * was recorded since (the whole store the first time only). Returns the position read up to.
 */
export async function openRuns(store: EventStore, from: Sweep): Promise<{ open: OpenRun[]; position?: bigint }> {
  const open = new Map(from.open);
  let position = from.position;
  const after = from.position === undefined ? {} : { fromPosition: from.position + 1n };
  for await (const recorded of store.readAll(after)) {
    position = recorded.position;
    if (!recorded.type.startsWith('Drill') || !recorded.stream.startsWith(drillStream(''))) continue;
    const event = decodeStored(recorded);
    const runId = (event.data as { runId?: string }).runId;
    if (runId === undefined || recorded.stream !== drillStream(runId)) continue;
    if (event.type === 'DrillStarted') {
      const { runner } = event.data;
      open.set(runId, { runId, startedAt: recorded.recordedAt.getTime(), runner, revision: recorded.revision });
    } else if (event.type === 'DrillFinished') open.delete(runId);
    else {
      const run = open.get(runId);
      if (run) open.set(runId, { ...run, revision: recorded.revision });
    }
  }
  return { open: [...open.values()], ...(position !== undefined && { position }) };
}

/**
 * Records DrillFinished aborted with the reason, at the run stream's revision `after`: of two closers
 * (or a runner that was alive after all and recorded something) one writes. Returns whether it did.
 */
async function closeRun(
  store: EventStore,
  runId: string,
  after: bigint,
  abortReason: string,
  context: { readonly actor: string; readonly now: Date },
): Promise<boolean> {
  const finished = { type: 'DrillFinished', data: { runId, outcome: 'aborted', abortReason } } as const;
  try {
    await store.append(
      drillStream(runId),
      [encodeEvent(finished, { actor: context.actor, occurredAt: context.now })],
      after,
    );
    return true;
  } catch (error) {
    if (error instanceof WrongExpectedRevision) return false;
    throw error;
  }
}

/**
 * Closes the runs whose runner is gone (killed, or its machine lost) as aborted, with the reason:
 * no run stays "running" forever. A run that records anything meanwhile is left alone. Returns the
 * runs closed. Safe to call from several processes at once: each run is closed once. Each sweep
 * records how far it read, so that the next one reads only what came after.
 */
export async function closeStaleRuns(
  store: EventStore,
  options: { readonly now: Date; readonly actor: string; readonly log: (line: string) => void },
): Promise<string[]> {
  const sweep = await lastSweep(store);
  const { open, position } = await openRuns(store, sweep);
  const closed: string[] = [];
  for (const run of open) {
    const gone = goneBecause(run, options.now.getTime());
    if (!gone) continue;
    const abortReason = `closed as aborted by ${options.actor}: ${gone}`;
    if (!(await closeRun(store, run.runId, run.revision, abortReason, options))) continue;
    options.log(`drill run ${run.runId} ${abortReason}`);
    closed.push(run.runId);
  }
  if (position === undefined || position === sweep.position || open.length > MAX_OPEN) return closed;
  // Runs closed just now stay listed: their DrillFinished, after `position`, is read by the next sweep.
  const stillOpen = open.map(({ runId, startedAt, runner, revision }) => ({
    runId,
    startedAt,
    ...(runner && { runner }),
    revision: String(revision),
  }));
  const swept = { type: 'DrillRunsSwept', data: { position: String(position), open: stillOpen } } as const;
  try {
    await store.append(
      SWEPT_STREAM,
      [encodeEvent(swept, { actor: options.actor, occurredAt: options.now })],
      sweep.revision,
    );
  } catch (error) {
    // Another sweep recorded its own meanwhile: the next one reads on from either.
    if (!(error instanceof WrongExpectedRevision)) throw error;
  }
  return closed;
}

/**
 * Ends one run known to be dead (its scheduler's lease lapsed) as aborted with the reason, if it
 * started and never finished. Returns whether this call closed it.
 */
export async function abortStaleRun(
  store: EventStore,
  runId: string,
  reason: string,
  context: { readonly actor: string; readonly now: Date },
): Promise<boolean> {
  let revision: bigint | undefined;
  let started = false;
  for await (const recorded of store.readStream(drillStream(runId))) {
    if (recorded.type === 'DrillFinished') return false;
    started ||= recorded.type === 'DrillStarted';
    revision = recorded.revision;
  }
  return started && revision !== undefined && closeRun(store, runId, revision, reason, context);
}

/** Whether a run ran to its verdict (passed or failed): a run that aborted, or never finished, did not run its slot. */
export async function runCompleted(store: EventStore, runId: string): Promise<boolean> {
  for await (const recorded of store.readStream(drillStream(runId), { direction: 'backwards', maxCount: 1 }))
    return recorded.type === 'DrillFinished' && recorded.data.outcome !== 'aborted';
  return false;
}
