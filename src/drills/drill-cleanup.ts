import { InvariantViolated } from '../domain/decider.js';
import { isRollbackActive, type RollbackStatus } from '../domain/service.js';
import { healFault } from './drill-phases.js';
import type { DrillRun } from './drill-run.js';
import { pause } from './drill-target.js';

const RESTORE_WAIT_MS = 90_000;
const ROLLBACK_END_WAIT_MS = 60_000;
/** A decision not yet carried out: the domain lets it be rejected. */
const REJECTABLE: readonly RollbackStatus[] = ['decided', 'awaiting_approval', 'approved'];

/**
 * The drill's own decisions do not outlive it: one not carried out yet is rejected, naming the run
 * (a manual one awaiting approval would block every later drill and deployment); one under way is
 * given time to end, now that the faults are gone. Decisions from before the faults are not the drill's.
 */
export async function resolveOwnDecisions(run: DrillRun): Promise<void> {
  const rollback = (await run.target.state()).rollback;
  if (!rollback || !run.seen.ownDecisions.includes(rollback.id)) return;
  if (REJECTABLE.includes(rollback.status)) {
    const reason = `drill ${run.drill.drill} (${run.runId}) ended: its decision is not carried out after the drill`;
    try {
      await run.target.rejectRollback(rollback.id, reason);
      run.say(`cleanup: ${rollback.mode} rollback ${rollback.id} (${rollback.status}) rejected`);
      return;
    } catch (error) {
      // Started meanwhile: it is waited for below.
      if (!(error instanceof InvariantViolated)) throw error;
    }
  }
  for (let waited = 0; waited < ROLLBACK_END_WAIT_MS; waited += 500) {
    const state = await run.target.state();
    if (!isRollbackActive(state) || state.rollback?.id !== rollback.id) return;
    await pause(500);
  }
  run.say(`cleanup: rollback ${rollback.id} is still under way; see \`failsafe status ${run.service}\``);
}

/** Leaves the fleet as the drill found it: faults gone, tools enabled, its decisions resolved, its release back. */
export async function cleanup(run: DrillRun): Promise<void> {
  const { drill, runId, service } = run;
  run.loads.stopAll();
  const reason = `drill ${drill.drill} (${runId})`;
  // Each part is tried whatever happened to the one before: one failure must not leave the rest behind.
  const parts: [string, () => Promise<void>][] = [
    [
      'healing the faults',
      async () => {
        for (const fault of run.faults) await healFault(run, fault);
      },
    ],
    ['removing the proxy', () => run.options.toxiproxy.removeProxy(run.proxyName)],
    [
      'closing the faults',
      async () => {
        for (const fault of run.faults) {
          const closed = await fault.close();
          if (closed) run.say(`cleanup: ${closed}`);
        }
      },
    ],
    [
      // Tools Failsafe disabled during the drill are enabled again: the target as it was.
      'enabling the tools',
      async () => {
        for (const tool of new Set(run.seen.disabledTools.map((d) => d.tool))) {
          await run.target.enableTool(tool, `${reason} restores the target`);
          run.say(`cleanup: tool ${tool} enabled again`);
        }
      },
    ],
    ["resolving the drill's decisions", () => resolveOwnDecisions(run)],
    [
      'restoring the release',
      async () => {
        const after = await run.target.state();
        if (after.currentRelease === drill.target.release || isRollbackActive(after)) return;
        run.say(`cleanup: restoring ${drill.target.release}`);
        // Not cut short by Ctrl-C: a bad release left running is a fault left behind.
        await run.target.deploy(drill.target.release, reason, RESTORE_WAIT_MS, service);
      },
    ],
  ];
  const problems: string[] = [];
  for (const [what, act] of parts) await act().catch((error: Error) => problems.push(`${what}: ${error.message}`));
  await run.step('cleanup', problems.length > 0 ? 'failed' : 'passed', problems.join('; ') || undefined);
}
