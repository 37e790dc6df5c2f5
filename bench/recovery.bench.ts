/**
 * Time to recover per failure mode, through real `failsafe serve` processes and the real sample
 * fleet, probed every second: from the first bad health sample of a bad release to traffic back on
 * the last known good release (RollbackCompleted), and to the rollback verified. A crash at start
 * never takes traffic: for it, the time from DeploymentStarted to DeploymentFailed is reported.
 * Run: npm run bench:recovery -- [--runs N] [--modes errors,latency,memory,protocol,crash] [--quick]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startTraffic } from '../drills/sample-fleet/traffic.js';
import { healthStream, serviceStream } from '../src/domain/streams.js';
import { collect } from '../src/event-store/event-store.contract.js';
import type { RecordedEvent } from '../src/event-store/event-store.js';
import { SqliteEventStore } from '../src/event-store/sqlite-event-store.js';
import type { EventData } from '../src/events/catalogue.js';
import { newToken } from '../src/auth/tokens.js';
import { startServeProcess, stopFleet, writeSampleFleet } from '../src/testing/serve-process.js';
import { fmt, loadAverage, median, printGrid, progress, reportQuick, writeResults } from './bench-support.js';

type Sample = EventData<'HealthSampleRecorded'>;

/** Each mode's bad release, and what makes one of its samples bad (latency: over the rule's threshold). */
const modes = {
  errors: { release: 'v2.0.0-errors', bad: (s: Sample) => (s.requests?.errors ?? 0) > 0 },
  latency: { release: 'v2.0.0-slow', bad: (s: Sample) => (s.latencyMs?.p95 ?? 0) > 5000 },
  memory: { release: 'v2.0.0-leak', bad: (s: Sample) => (s.memory?.usedRatio ?? 0) > 0.9 },
  protocol: { release: 'v2.0.0-protocol', bad: (s: Sample) => s.mcp?.error !== undefined || !s.healthy },
  crash: { release: 'v2.0.0-crash', bad: () => false },
} as const;
type Mode = keyof typeof modes;

/** The aims of issue 17, medians per mode: traffic back on the good release, and the rollback verified. */
const AIM_BACK_S = 1.5;
const AIM_VERIFIED_S = 5;

const HELP =
  'Usage: npm run bench:recovery -- [--runs N (per mode, default 5)] [--modes a,b (default all: ' +
  `${Object.keys(modes).join(',')})] [--quick (one run of errors by default; ends with one QUICK line, ` +
  'exit 3 when a median is over twice its aim)]\n';
const { values: args } = parseArgs({
  options: {
    runs: { type: 'string' },
    modes: { type: 'string' },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const runs = Number(args.runs ?? (args.quick ? '1' : '5'));
const chosen = (args.modes ?? (args.quick ? 'errors' : Object.keys(modes).join(','))).split(',') as Mode[];
const unknown = chosen.filter((m) => !(m in modes));
if (!Number.isInteger(runs) || runs <= 0 || unknown.length > 0) {
  process.stderr.write(
    `${unknown.length > 0 ? `unknown mode: ${unknown.join(', ')}` : '--runs: a whole number'}\n${HELP}`,
  );
  process.exit(2);
}

interface Run {
  /** First bad sample → RollbackDecided; for a crash, DeploymentStarted → DeploymentFailed. */
  readonly decidedS: number;
  readonly backS: number;
  readonly verifiedS: number;
}

async function read(dataDir: string, stream: string): Promise<RecordedEvent[]> {
  const store = SqliteEventStore.open({ path: join(dataDir, 'failsafe.db') });
  try {
    return await collect(store.readStream(stream));
  } finally {
    await store.close();
  }
}

async function once(mode: Mode): Promise<Run> {
  const { release, bad } = modes[mode];
  const dataDir = mkdtempSync(join(tmpdir(), 'failsafe-bench-recovery-'));
  const admin = newToken();
  const serve = await startServeProcess({
    dataDir,
    args: ['--fleet', writeSampleFleet(join(dataDir, 'fleet.yaml')), '--tick-seconds', '1'],
    env: { FAILSAFE_ADMIN_TOKEN: admin },
    services: ['sample'],
  });
  const traffic = startTraffic(() => serve.fleet.sample!);
  try {
    const good = serve.cli(admin, 'deploy', 'sample', 'v1.0.0');
    if (good.code !== 0) throw new Error(`deploy v1.0.0 failed: ${good.stderr}`);
    const started = serve.cli(admin, 'deploy', 'sample', release, '--no-wait');
    if (started.code !== 0) throw new Error(`deploy ${release} failed: ${started.stderr}`);
    const last = mode === 'crash' ? 'DeploymentFailed' : 'RollbackVerified';
    let story: RecordedEvent[] = [];
    for (const deadline = Date.now() + 180_000; !story.some((e) => e.type === last); await sleep(100)) {
      if (Date.now() > deadline) throw new Error(`no ${last} within 180 s:\n${story.map((e) => e.type).join(', ')}`);
      story = await read(dataDir, serviceStream('sample'));
    }
    const at = (type: string) => story.findLast((e) => e.type === type)!.recordedAt.getTime();
    if (mode === 'crash') {
      const failedS = (at('DeploymentFailed') - at('DeploymentStarted')) / 1000;
      const serving = ((await (await fetch(`${serve.fleet.sample}/health`)).json()) as { release?: string }).release;
      if (serving !== 'v1.0.0') throw new Error(`crash: the fleet serves ${serving} after the failed deployment`);
      return { decidedS: failedS, backS: 0, verifiedS: failedS };
    }
    const samples = (await read(dataDir, healthStream('sample'))).map((e) => e.data as Sample);
    const first = samples.find((s) => s.release === release && bad(s));
    if (!first) throw new Error(`${mode}: rolled back, but no sample of ${release} was bad by this benchmark's test`);
    const firstBad = Date.parse(first.sampledAt);
    return {
      decidedS: (at('RollbackDecided') - firstBad) / 1000,
      backS: (at('RollbackCompleted') - firstBad) / 1000,
      verifiedS: (at('RollbackVerified') - firstBad) / 1000,
    };
  } finally {
    await traffic.stop();
    await serve.stop();
    stopFleet(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const startedAt = new Date();
const loadAtStart = loadAverage();
console.log(
  `Failsafe recovery per failure mode — ${startedAt.toISOString()}, ${runs} runs a mode, 1 s sampling, ` +
    `real serve processes; load ${loadAtStart}`,
);
const results: Partial<Record<Mode, Run[]>> = {};
for (const mode of chosen) {
  const runsOfMode: Run[] = [];
  for (let i = 0; i < runs; i += 1) {
    progress(`${mode}: run ${i + 1} of ${runs}`);
    runsOfMode.push(await once(mode));
  }
  results[mode] = runsOfMode;
}
const cell = (values: number[], aim?: number) => {
  const verdict = aim === undefined ? '' : median(values) <= aim ? ' met' : ' NOT met';
  return `${fmt(median(values), 2)} s (worst ${fmt(Math.max(...values), 2)})${verdict}`;
};
printGrid(
  [
    'mode',
    'first bad sample → decided',
    `→ traffic back (aim ≤ ${AIM_BACK_S} s)`,
    `→ verified (aim ≤ ${AIM_VERIFIED_S} s)`,
  ],
  chosen.map((mode) => {
    const r = results[mode]!;
    return mode === 'crash'
      ? ['crash at start', `started → failed ${cell(r.map((x) => x.decidedS))}`, 'never left v1.0.0', '—']
      : [
          mode,
          cell(r.map((x) => x.decidedS)),
          cell(
            r.map((x) => x.backS),
            AIM_BACK_S,
          ),
          cell(
            r.map((x) => x.verifiedS),
            AIM_VERIFIED_S,
          ),
        ];
  }),
);
writeResults('recovery', startedAt, { start: loadAtStart, end: loadAverage() }, { runs: results });
if (args.quick) {
  reportQuick(
    chosen
      .filter((mode) => mode !== 'crash')
      .flatMap((mode) => [
        {
          name: `${mode}: first bad sample → traffic back (s)`,
          value: median(results[mode]!.map((x) => x.backS)),
          aim: AIM_BACK_S,
          higherIsBetter: false,
        },
        {
          name: `${mode}: first bad sample → rollback verified (s)`,
          value: median(results[mode]!.map((x) => x.verifiedS)),
          aim: AIM_VERIFIED_S,
          higherIsBetter: false,
        },
      ]),
  );
}
