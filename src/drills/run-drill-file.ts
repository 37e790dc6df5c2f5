import { drillPath, loadDrill } from './drill-file.js';
import { runDrill, type DrillRunnerOptions } from './drill-runner.js';
import type { Scorecard } from './scorecard.js';
import { saveScorecard } from './scorecard-files.js';
import { startToxiproxyServer, ToxiproxyControl } from './toxiproxy.js';

/**
 * A drill file to run: where it is and what its store, clients and Toxiproxy are;
 * the rest goes to the runner as it is.
 */
export interface DrillFileRun
  extends Pick<
    DrillRunnerOptions,
    'store' | 'log' | 'signal' | 'trigger' | 'scheduledFor' | 'runId' | 'requested' | 'approver'
  > {
  readonly drillsDir: string;
  /** A drill name (`drills/<name>.yaml`) or a path. */
  readonly drill: string;
  readonly dataDir: string;
  /** Where each service answers, for the drill's Toxiproxy to sit in front of. */
  readonly addressOf: (service: string) => string | undefined;
  /** A Toxiproxy server to use; without it one is started for the drill and stopped after. */
  readonly toxiproxyUrl?: string | undefined;
}

export class UnknownTarget extends Error {
  readonly code = 'UNKNOWN_TARGET';
  constructor(service: string) {
    super(
      `UnknownTarget: the drill targets "${service}", which is not a process-driven service of the fleet; ` +
        'pass the fleet file (--fleet) that runs it',
    );
    this.name = 'UnknownTarget';
  }
}

/** Loads a drill file, runs it with Toxiproxy, and saves its scorecard and HTML report beside the store. */
export async function runDrillFile(
  run: DrillFileRun,
): Promise<{ card: Scorecard; files: { json: string; html: string } }> {
  const drill = loadDrill(drillPath(run.drill, run.drillsDir));
  const targetAddress = run.addressOf(drill.target.service);
  if (!targetAddress) throw new UnknownTarget(drill.target.service);
  const server = run.toxiproxyUrl ? undefined : await startToxiproxyServer();
  try {
    const card = await runDrill(drill, {
      ...run,
      toxiproxy: new ToxiproxyControl(run.toxiproxyUrl ?? server!.url),
      targetAddress,
    });
    return { card, files: saveScorecard(run.dataDir, card) };
  } finally {
    await server?.stop();
  }
}
