import { isRollbackActive } from '../domain/service.js';
import { TOXIC_PREFIX } from './drill-faults.js';
import { DrillAborted, type DrillRun } from './drill-run.js';
import { closeStaleRuns } from './drill-stale-runs.js';
import { pause } from './drill-target.js';
import { freePort } from './toxiproxy.js';

const DEPLOY_WAIT_MS = 90_000;
const ROLLBACK_WAIT_MS = 120_000;

/** The drill's own Toxiproxy in front of the service; toxics a crashed drill left on the fleet's proxies removed. */
async function proxies(run: DrillRun): Promise<string> {
  const { toxiproxy, targetAddress } = run.options;
  const target = new URL(targetAddress);
  const listen = `127.0.0.1:${await freePort()}`;
  // Created afresh: a proxy (and its toxics) left by a crashed drill is removed first.
  await toxiproxy.proxy(run.proxyName, listen, `${target.hostname}:${target.port}`);
  run.proxyUrl = `http://${listen}`;
  for (const fault of run.drill.faults) {
    if (fault.kind !== 'toxic' || !fault.proxy) continue;
    const stale = await toxiproxy.removeToxics(fault.proxy, TOXIC_PREFIX);
    if (stale.length > 0) run.say(`removed toxics a previous drill left on ${fault.proxy}: ${stale.join(', ')}`);
  }
  return `Toxiproxy ${run.proxyName} on ${listen} in front of ${target.host}`;
}

async function dependencies(run: DrillRun): Promise<void> {
  const reason = `drill ${run.drill.drill} (${run.runId})`;
  for (const [dependency, release] of Object.entries(run.drill.target.dependencies)) {
    const running = await run.target.state(dependency);
    if (running.currentRelease === release && running.currentReleaseHealthy) continue;
    if (!(await run.target.deploy(release, reason, DEPLOY_WAIT_MS, dependency, run.options.signal)))
      throw new DrillAborted(
        `could not bring the dependency ${dependency} to ${release}; is it in the fleet \`failsafe serve\` runs?`,
      );
  }
}

/** A rollback still under way (a previous drill's, say) blocks deployments: let it end first. */
async function rollbackEnded(run: DrillRun): Promise<void> {
  const { service } = run;
  for (let waited = 0, blocking = await run.target.state(); isRollbackActive(blocking); waited += 500) {
    const { id, status, mode } = blocking.rollback!;
    if (status === 'awaiting_approval')
      throw new DrillAborted(`${mode} rollback ${id} of ${service} awaits approval: approve or reject it first`);
    if (waited === 0) run.say(`waiting for rollback ${id} of ${service} (${status}) to end`);
    if (waited >= ROLLBACK_WAIT_MS)
      throw new DrillAborted(
        `rollback ${id} of ${service} has been ${status} for over 2 minutes; see \`failsafe status ${service}\``,
      );
    run.checkAbort();
    await pause(500, run.options.signal);
    blocking = await run.target.state();
  }
}

/** The target on the drill's release, with its previous release as the last known good one when asked for. */
async function targetReady(run: DrillRun): Promise<void> {
  const current = await run.target.state();
  const { previous, release } = run.drill.target;
  const ready =
    current.currentRelease === release &&
    current.currentReleaseHealthy &&
    (!previous || current.lastKnownGood === previous);
  if (ready) return;
  const bringTo = async (to: string) => {
    const reason = `drill ${run.drill.drill} (${run.runId})`;
    if (!(await run.target.deploy(to, reason, DEPLOY_WAIT_MS, run.service, run.options.signal)))
      throw new DrillAborted(
        `could not bring ${run.service} to ${to}; is \`failsafe serve --fleet\` running on this data folder?`,
      );
  };
  if (previous && current.currentRelease !== previous) await bringTo(previous);
  await bringTo(release);
}

export async function prepare(run: DrillRun): Promise<void> {
  await run.step('prepare', 'started');
  await closeStaleRuns(run.options.store, { now: new Date(run.now()), actor: run.actor, log: (l) => run.say(l) });
  const proxy = await proxies(run);
  await dependencies(run);
  await rollbackEnded(run);
  await targetReady(run);
  await run.step('prepare', 'passed', `${proxy}; ${run.service} runs ${run.drill.target.release}`);
}
