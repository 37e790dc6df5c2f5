import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadFleetConfig } from '../config/fleet-config.js';
import { InvalidYamlFile } from '../config/yaml-file.js';
import { nextSlot, parseCron } from '../drills/cron.js';
import { trendTable } from '../drills/drill-report.js';
import { scheduledDrills } from '../drills/drill-scheduler.js';
import { drillPath, loadDrill } from '../drills/drill-file.js';
import { allScorecards, loadScorecard, saveTrend, scorecardDir } from '../drills/scorecard-files.js';
import { verdictWord, type Scorecard } from '../drills/scorecard.js';
import type { DrillRun } from '../../projections/drill-history.js';
import { DEFAULT_DATA_DIR } from '../config/serve-config.js';
import { identifier } from '../events/common-schemas.js';
import { action, named, positiveInteger, say, withDataDir, withStore, withStoreOptions } from './cli-support.js';
import { systemClock } from '../runtime/clock.js';
import { connect, serverUrl, type FrontDoorClient } from './front-door-client.js';
import { TimedOut } from './client-command.js';
import { constants } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const drillsOption = (command: Command) =>
  command.option('--drills <dir>', 'the drills folder (env FAILSAFE_DRILLS)', process.env.FAILSAFE_DRILLS ?? 'drills');
const dataDirOf = (dataDir: string | undefined) =>
  resolve(dataDir ?? process.env.FAILSAFE_DATA_DIR ?? DEFAULT_DATA_DIR);
const seconds = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);

/** The exit code for cron: 0 passed, 1 an expectation failed, 2 the drill could not run to the end. */
export const exitCodeOf = (card: { readonly outcome: string }): number =>
  card.outcome === 'passed' ? 0 : card.outcome === 'failed' ? 1 : 2;

/** What a summary shows: a scorecard, or a run as drill_report returns it. */
type Summarised = Pick<Scorecard, 'drill' | 'runId' | 'timeToDetectMs' | 'timeToRecoverMs' | 'expectations'> & {
  outcome: string;
  abortReason?: string;
};

const summary = (card: Summarised) =>
  [
    `${card.drill} (${card.runId}) ${card.outcome.toUpperCase()}${card.abortReason ? `: ${card.abortReason}` : ''}`,
    `  time to detect ${seconds(card.timeToDetectMs)}, time to recover ${seconds(card.timeToRecoverMs)}`,
    ...card.expectations.map((e) => `  ${verdictWord(e)} ${e.expectation}: ${e.detail}`),
  ].join('\n');

const validateCommand = () =>
  new Command('validate')
    .description('check drill files: every problem with its file and line; exit 1 if any')
    .argument('<files...>')
    .option(
      '--fleet <file>',
      'also check the releases, services and Toxiproxy proxies they name against this fleet (env FAILSAFE_FLEET)',
      process.env.FAILSAFE_FLEET,
    )
    .action(
      action(async (files: string[], flags: { fleet?: string }) => {
        const fleet = flags.fleet === undefined ? undefined : loadFleetConfig(flags.fleet);
        let bad = 0;
        for (const file of files) {
          try {
            const drill = loadDrill(file, fleet);
            say(
              `${file}: OK (${drill.drill}: ${drill.faults.length} fault(s), ` +
                `${drill.expectations.length} expectation(s))`,
            );
          } catch (error) {
            if (!(error instanceof InvalidYamlFile)) throw error;
            bad += 1;
            say(error.message);
          }
        }
        if (bad > 0) process.exitCode = 1;
      }),
    );

interface RunFlags {
  drills: string;
  fleet?: string;
  toxiproxyUrl?: string;
  json?: boolean;
  dataDir?: string;
  store?: string;
  viaServer?: boolean;
  url?: string;
  wait: number;
}

const FINISHED = ['passed', 'failed', 'aborted'];

/** Asks the server for a run (start_drill) and follows it through drill_report until it finishes. */
async function runViaServer(client: FrontDoorClient, drill: string, flags: RunFlags): Promise<void> {
  const { runId } = (await client.call('start_drill', { drill })) as { runId: string };
  say(`drill run ${runId} of ${drill} requested from ${client.url}; \`failsafe serve --drills <dir>\` runs it`);
  const deadline = performance.now() + flags.wait * 1000;
  for (let outcome = 'requested'; ; ) {
    const { run } = (await client.call('drill_report', { runId })) as { run: DrillRun };
    if (run.outcome !== outcome) say(`  ${run.outcome}`);
    outcome = run.outcome;
    if (FINISHED.includes(outcome)) {
      say(flags.json ? JSON.stringify(run, null, 2) : summary(run));
      process.exitCode = exitCodeOf(run);
      return;
    }
    if (performance.now() > deadline) throw new TimedOut(`run ${runId} did not finish`, flags.wait, client.url);
    await sleep(1000);
  }
}

/**
 * Ctrl-C (or SIGTERM) during a drill: the first aborts it and waits for its cleanup (exit 2); the
 * second only says that cleanup is under way; a third quits at once, leaving what the cleanup had
 * not done yet (the next drill run removes its toxics and closes the run as aborted). Once the
 * cleanup is done, further signals are ignored while the process exits.
 */
function interruptible(): { signal: AbortSignal; dispose(): void } {
  const aborting = new AbortController();
  let count = 0;
  const interrupt = (signal: NodeJS.Signals) => {
    count += 1;
    if (count === 1) {
      say(`${signal}: cleaning up, please wait (faults removed, tools enabled, the target restored)...`);
      aborting.abort(`interrupted by ${signal}`);
    } else if (count === 2) say(`${signal}: still cleaning up, please wait; once more quits without cleaning up`);
    else {
      say(`${signal}: quitting without cleaning up; \`failsafe status\` shows what the drill left`);
      process.exit(128 + (constants.signals[signal] ?? 2));
    }
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  return {
    signal: aborting.signal,
    dispose() {
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
      // Interrupted, the cleanup done: the process is on its way out with exit 2. A Ctrl-C in that last
      // moment would otherwise kill it by the signal, and the caller would see no exit code at all.
      if (count > 0) for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => undefined);
    },
  };
}

const runCommand = () =>
  drillsOption(withStoreOptions(new Command('run')))
    .description(
      'run a drill now against the fleet that `failsafe serve --fleet` runs on this data folder; ' +
        'exit 0 passed, 1 failed, 2 aborted. Ctrl-C aborts it and cleans up (exit 2); ' +
        'a third Ctrl-C quits without cleaning up',
    )
    .argument('<drill>', 'a drill name (drills/<name>.yaml) or a path')
    .option('--fleet <file>', "the fleet file `serve` runs (the target's address)", process.env.FAILSAFE_FLEET)
    .option('--via-server', 'ask the server to run it (start_drill; `serve --drills` runs it) and follow it')
    .option(
      '--url <url>',
      'the server: asked with --via-server, else approving through MCP (env FAILSAFE_URL, else login)',
    )
    .option('--wait <seconds>', 'with --via-server: how long to follow the run', positiveInteger('seconds'), 900)
    .option(
      '--toxiproxy-url <url>',
      'a running Toxiproxy (env FAILSAFE_TOXIPROXY_URL); by default one is started for the drill',
      process.env.FAILSAFE_TOXIPROXY_URL,
    )
    .option('--json', 'print the scorecard as JSON at the end')
    .action(
      action(async (drill: string, flags: RunFlags) => {
        if (flags.viaServer) return runViaServer(connect(flags), drill, flags);
        const usage = '--fleet <file> is needed to run a drill here (or --via-server)';
        if (!flags.fleet) throw Object.assign(new Error(usage), { code: 'USAGE' });
        const fleet = loadFleetConfig(flags.fleet);
        // Before anything starts: releases and proxies the fleet does not have are refused with their lines.
        loadDrill(drillPath(drill, flags.drills), fleet);
        const addressOf = (service: string) => {
          const s = fleet.services[service];
          if (s?.driver === 'kubernetes') return s.address;
          return s?.driver === 'process' && s.port > 0 ? `http://127.0.0.1:${s.port}` : undefined;
        };
        const interrupts = interruptible();
        try {
          await withStore(flags, async (store) => {
            const token = process.env.FAILSAFE_APPROVER_TOKEN;
            const approver = token ? { mcpUrl: `${serverUrl(flags)}/mcp`, token } : undefined;
            const toxiproxyUrl = flags.toxiproxyUrl ?? (fleet.toxiproxy && `http://${fleet.toxiproxy.api}`);
            // Loaded here, not at the top: k6, Toxiproxy and MCP clients are for this command alone.
            const { runDrillFile } = await import('../drills/run-drill-file.js');
            const { card, files } = await runDrillFile({
              drillsDir: flags.drills,
              drill,
              store,
              dataDir: dataDirOf(flags.dataDir),
              addressOf,
              log: say,
              signal: interrupts.signal,
              toxiproxyUrl,
              approver,
            });
            say(flags.json ? JSON.stringify(card, null, 2) : summary(card));
            say(`report: ${files.html}`);
            process.exitCode = exitCodeOf(card);
          });
        } finally {
          interrupts.dispose();
        }
      }),
    );

const listCommand = () =>
  drillsOption(withDataDir(new Command('list')))
    .description('the drills, their schedules and next slot, and their last results')
    .action(
      action(async (flags: { drills: string; dataDir?: string }) => {
        const cards = allScorecards(dataDirOf(flags.dataDir));
        const drills = existsSync(flags.drills) ? scheduledDrills(flags.drills) : [];
        if (drills.length === 0) return say(`no drill files in ${flags.drills}`);
        for (const { drill, cron } of drills) {
          const last = cards.filter((c) => c.drill === drill).at(-1);
          const next = nextSlot(parseCron(cron), systemClock.now());
          say(
            `${drill.padEnd(28)} ${cron.padEnd(14)} next ${next?.toISOString() ?? 'never'}   ` +
              `last ${last ? `${last.outcome} at ${last.startedAt} (${last.runId})` : 'never run'}`,
          );
        }
      }),
    );

const reportCommand = () =>
  withDataDir(new Command('report'))
    .description("a run's scorecard and the path of its HTML report; with --trend, every run of a drill")
    .argument('[run]', 'the run id (drill list shows the last of each drill)', named(identifier))
    .option(
      '--trend <drill>',
      'every run of this drill, oldest first: detection and recovery over time, and an HTML chart of them',
      named(identifier),
    )
    .option('--json', 'print the scorecard as JSON')
    .action(
      action(async (runId: string | undefined, flags: { trend?: string; json?: boolean; dataDir?: string }) => {
        const dataDir = dataDirOf(flags.dataDir);
        if (flags.trend) {
          const cards = allScorecards(dataDir).filter((c) => c.drill === flags.trend);
          if (cards.length === 0) return say(`no runs of ${flags.trend} yet`);
          say(trendTable(cards));
          return say(`trend chart: ${saveTrend(dataDir, flags.trend, cards)}`);
        }
        if (!runId)
          throw Object.assign(
            new Error('give a run id, or --trend <drill>; `failsafe drill list` shows the last run of each drill'),
            { code: 'USAGE' },
          );
        const card = loadScorecard(dataDir, runId);
        say(flags.json ? JSON.stringify(card, null, 2) : summary(card));
        if (!flags.json) say(`report: ${join(scorecardDir(dataDir, runId), 'report.html')}`);
      }),
    );

export const drillCommand = (): Command =>
  new Command('drill')
    .description('chaos drills: validate their files, run one now, list schedules and results, read reports')
    .addCommand(validateCommand())
    .addCommand(runCommand())
    .addCommand(listCommand())
    .addCommand(reportCommand());
