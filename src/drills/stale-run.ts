import { WrongExpectedRevision } from '../event-store/errors.js';
import type { EventStore, ExpectedRevision } from '../event-store/event-store.js';
import { encodeEvent } from '../events/catalogue.js';
import { drillStream } from './drill-runner.js';

/**
 * Ends a run whose runner died: a run started (DrillStarted) and never finished gets a failed
 * `runner` step saying why and `DrillFinished` aborted, so that it does not stay "running" forever.
 * Appended at the revision read: of two closers (or a runner that was alive after all) one writes.
 * Returns whether this call closed it.
 */
export async function abortStaleRun(
  store: EventStore,
  runId: string,
  reason: string,
  context: { readonly actor: string; readonly now: Date },
): Promise<boolean> {
  let revision: ExpectedRevision = 'no_stream';
  let started = false;
  for await (const recorded of store.readStream(drillStream(runId))) {
    if (recorded.type === 'DrillFinished') return false;
    started ||= recorded.type === 'DrillStarted';
    revision = recorded.revision;
  }
  if (!started) return false;
  const meta = { actor: context.actor, occurredAt: context.now };
  try {
    await store.append(
      drillStream(runId),
      [
        encodeEvent(
          { type: 'DrillStepRecorded', data: { runId, step: 'runner', status: 'failed', detail: reason } },
          meta,
        ),
        encodeEvent({ type: 'DrillFinished', data: { runId, outcome: 'aborted' } }, meta),
      ],
      revision,
    );
    return true;
  } catch (error) {
    if (error instanceof WrongExpectedRevision) return false;
    throw error;
  }
}

/** Whether a run ran to its verdict (passed or failed): a run that aborted, or never finished, did not run its slot. */
export async function runCompleted(store: EventStore, runId: string): Promise<boolean> {
  for await (const recorded of store.readStream(drillStream(runId), { direction: 'backwards', maxCount: 1 }))
    return recorded.type === 'DrillFinished' && recorded.data.outcome !== 'aborted';
  return false;
}
