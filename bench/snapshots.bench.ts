/**
 * Snapshots benchmark: `replay --at` random instants of a long history, from the snapshots beside
 * a replay from zero in the same run, and `audit verify` going on from a verified history after
 * 10,000 new events beside the full verification of that history.
 * Run: npx tsx bench/snapshots.bench.ts [--events N] [--verify-events N] [--tail N] [--every N] [--quick]
 * A verified 10 M history takes most of an hour to write and verify: --history-dir keeps it for the next runs.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { verifyAndRecord } from '../src/audit/incremental-verification.js';
import { replayAt } from '../src/audit/replay-at.js';
import { storeHistory } from '../src/audit/store-history.js';
import type { AuditReport } from '../src/audit/verify-decisions.js';
import { STORE_FILE } from '../src/config/serve-config.js';
import { CLOCK_STREAM, healthStream, serviceStream } from '../src/domain/streams.js';
import type { NewEvent } from '../src/event-store/event-store.js';
import { SqliteEventStore } from '../src/event-store/sqlite-event-store.js';
import { currentSchemaVersion, encodeEvent } from '../src/events/catalogue.js';
import { defaultRollbackPolicy } from '../src/policy/rollback-policy.js';
import { checkpointsFile } from '../src/runtime/checkpoints-file.js';
import { fixedClock } from '../src/runtime/clock.js';
import { SqliteSnapshotStore } from '../src/runtime/sqlite-snapshot-store.js';
import { fmt, loadAverage, median, printGrid, progress, reportQuick, timed } from './bench-support.js';
import { healthSampleData } from './health-sample-events.js';

const HELP = `Usage: npx tsx bench/snapshots.bench.ts [options]

  --events <n>          events in the replayed history (default 10000000; 95 % health samples)
  --services <n>        services the samples spread over (default 50)
  --every <n>           events between two snapshots of replay --at (default 20000, the code's default)
  --instants <n>        random instants replayed from the snapshots (default 21)
  --from-zero <n>       of those, how many also replayed from zero (default 3: each reads the whole history)
  --verify-events <n>   history verified in full before the incremental runs (default 100000: the policy
                        fold is slow today, see the results file)
  --tail <n>            new events before each incremental verification (default 10000)
  --rounds <n>          incremental verifications, each after --tail new events (default 3)
  --history-dir <dir>   keep the verified history there (a data folder), and go on with it when it is
                        there already: the next run writes and verifies only the tail
  --skip-replays        only the audit verify part
  --write-only          with --history-dir: only write the verified history up to --verify-events, and stop
                        (a 10 M history in parts, each under the benchmark lock for a few minutes)
  --cli                 also time each incremental run as the whole command, \`failsafe audit verify\`
                        (the compiled CLI when built), one more --tail each
  --quick               small sizes, seconds not minutes; ends with one QUICK line (exit 3 on a regression)
  --help                show this help
`;
const { values } = parseArgs({
  options: {
    events: { type: 'string' },
    services: { type: 'string', default: '50' },
    every: { type: 'string' },
    instants: { type: 'string' },
    'from-zero': { type: 'string' },
    'verify-events': { type: 'string' },
    tail: { type: 'string' },
    rounds: { type: 'string' },
    'history-dir': { type: 'string' },
    'skip-replays': { type: 'boolean', default: false },
    'write-only': { type: 'boolean', default: false },
    cli: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const quick = values.quick;
const option = (name: keyof typeof values, full: number, small: number): number => {
  const given = values[name];
  const value = given === undefined ? (quick ? small : full) : Number(given);
  if (!Number.isInteger(value) || value <= 0) {
    process.stderr.write(`--${name} must be a positive whole number, got "${String(given)}"\n\n${HELP}`);
    process.exit(2);
  }
  return value;
};
const total = option('events', 10_000_000, 100_000);
const services = option('services', 50, 50);
const every = option('every', 20_000, 5_000);
const instants = option('instants', 21, 9);
const fromZeroRuns = Math.min(instants, option('from-zero', 3, 3));
const verifyEvents = option('verify-events', 100_000, 20_000);
const tail = option('tail', 10_000, 1_000);
const rounds = option('rounds', 3, 3);

const base = Date.UTC(2026, 10, 24);
const at = (n: number) => new Date(base + Math.floor(n / services) * 1000);

/**
 * The n-th event of a history like production's: samples of every service once a second, and
 * every twentieth event something else (deployments, ticks). Samples are built without the
 * catalogue's validation, for speed; every replay below decodes, and so validates, each of them.
 */
function eventAt(n: number): { stream: string; event: NewEvent } {
  const service = n % services;
  if (n % 20 !== 19) {
    const id = randomUUID();
    const metadata = {
      correlationId: id,
      causationId: null,
      actor: 'prober',
      schemaVersion: currentSchemaVersion('HealthSampleRecorded'),
      occurredAt: at(n).toISOString(),
    };
    const data = healthSampleData(`svc-${service}`, Math.floor(n / services));
    return { stream: healthStream(`svc-${service}`), event: { id, type: 'HealthSampleRecorded', data, metadata } };
  }
  const occurredAt = at(n);
  if (n % 40 === 19)
    return {
      stream: CLOCK_STREAM,
      event: encodeEvent(
        { type: 'ClockTicked', data: { at: occurredAt.toISOString() } },
        { actor: 'bench', occurredAt },
      ),
    };
  const deployment = { deploymentId: `d-${n}`, service: `svc-${service}`, release: `v${n}` };
  const type = n % 80 === 39 ? 'DeploymentRequested' : 'DeploymentStarted';
  return {
    stream: serviceStream(`svc-${service}`),
    event: encodeEvent({ type, data: deployment }, { actor: 'bench', occurredAt }),
  };
}

/** Appends events [from, to) in batches of 1,000, one stream each (the store's batch append). */
async function write(store: SqliteEventStore, from: number, to: number, report = false): Promise<void> {
  for (let written = from; written < to; written += 1000) {
    const batch: NewEvent[] = [];
    for (let n = written; n < Math.min(to, written + 1000); n += 1) batch.push(eventAt(n).event);
    await store.append(`history-${(written / 1000) % 100}`, batch, 'any');
    if (report && (written + 1000) % 500_000 === 0) progress(`${fmt(written + 1000)} written`);
  }
}

/** A seeded generator: the same instants at every run. */
function* uniform(seed: number): Generator<number> {
  let state = seed;
  for (;;) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    yield state / 2 ** 31;
  }
}

const verdicts = (report: AuditReport | undefined) =>
  report && { recorded: report.recorded, missing: report.missing, telemetry: report.telemetry, ok: report.ok };

const historyDir = values['history-dir'];
const skipReplays = values['skip-replays'];
const bin = fileURLToPath(new URL('../bin/failsafe.js', import.meta.url));

/** `failsafe audit verify --data-dir dir`, the whole command, in seconds; it must go on from the last run. */
function cliVerifySeconds(dir: string): number {
  const { FAILSAFE_POLICY, FAILSAFE_STORE, FAILSAFE_DATA_DIR, ...env } = process.env;
  const started = performance.now();
  const result = spawnSync(process.execPath, [bin, 'audit', 'verify', '--data-dir', dir, '--json'], {
    encoding: 'utf8',
    env,
    maxBuffer: 1 << 30,
  });
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 0) throw new Error(`failsafe audit verify exited ${result.status}: ${result.stderr}`);
  const { mode, why } = JSON.parse(result.stdout) as { mode: string; why: string };
  if (mode !== 'incremental') throw new Error(`failsafe audit verify verified in full: ${why}`);
  return seconds;
}

/** What --history-dir keeps beside the store: how many bench events it holds, how long their full verification took. */
interface KeptHistory {
  readonly written: number;
  /** Absent until the history was verified in full (--write-only writes it in parts). */
  readonly fullSeconds?: number | undefined;
  readonly fullEvents?: number | undefined;
}

const root = mkdtempSync(join(tmpdir(), 'failsafe-bench-snapshots-'));
const cleanUp = () => rmSync(root, { recursive: true, force: true });
process.once('SIGINT', () => {
  cleanUp();
  process.exit(130);
});
try {
  const loadStart = loadAverage();
  console.log(
    `Failsafe snapshots benchmark — ${new Date().toISOString()}, node ${process.version}, ${cpus().length} cores, ` +
      `load ${loadStart}${quick ? ' (quick)' : ''}`,
  );
  console.log(
    (skipReplays ? '' : `history ${fmt(total)} events, a snapshot every ${fmt(every)} events; `) +
      `verification on ${fmt(verifyEvents)} events + ${fmt(tail)} new per run, ${services} services`,
  );

  // 1. replay --at
  const replayRows: string[][] = [];
  let replayRatio: number | undefined;
  if (!skipReplays) {
    const store = SqliteEventStore.open({ path: join(root, 'failsafe.db') });
    progress(`writing ${fmt(total)} events`);
    const writeSeconds = await timed(() => write(store, 0, total, true));
    const history = storeHistory(store);
    const snapshots = new SqliteSnapshotStore(join(root, 'checkpoints.db'));
    const end = at(total - 1);
    progress('first replay (at the end): from zero, saving the snapshots');
    const firstSeconds = await timed(() => replayAt(history, end, { snapshots, snapshotEvery: every }));
    const random = uniform(17);
    const times = Array.from({ length: instants }, () => new Date(base + random.next().value * (end.getTime() - base)));
    const fromSnapshots: number[] = [];
    const fromZero: number[] = [];
    for (const [i, instant] of times.entries()) {
      progress(`replay --at ${instant.toISOString()} from the snapshots${i < fromZeroRuns ? ' and from zero' : ''}`);
      let state: unknown;
      fromSnapshots.push(
        await timed(async () => {
          state = await replayAt(history, instant, { snapshots, snapshotEvery: every });
        }),
      );
      if (i < fromZeroRuns) {
        let zero: unknown;
        fromZero.push(
          await timed(async () => {
            zero = await replayAt(history, instant);
          }),
        );
        // As printed (--json, the API): a snapshot is JSON, so a key holding undefined is absent from it.
        if (JSON.stringify(state) !== JSON.stringify(zero))
          throw new Error(`replay at ${instant.toISOString()}: snapshots ≠ zero`);
      }
    }
    await snapshots.close();
    await store.close();
    const replayMedian = median(fromSnapshots);
    const zeroMedian = median(fromZero);
    replayRatio = zeroMedian / replayMedian;
    replayRows.push(
      ['write the history (events/s, batches of 1,000)', fmt(total / writeSeconds), ''],
      ['first replay --at (from zero, saving snapshots), s', fmt(firstSeconds, 2), ''],
      [`replay --at from snapshots, median of ${instants}, s`, fmt(replayMedian, 3), '<= 2'],
      [`  slowest, s`, fmt(Math.max(...fromSnapshots), 3), ''],
      [`replay --at from zero, median of ${fromZeroRuns}, s`, fmt(zeroMedian, 2), ''],
      ['  from zero / from snapshots (same instants and run)', fmt(replayRatio, 1), ''],
    );
    console.log(`replay --at from snapshots, each (s): ${fromSnapshots.map((s) => s.toFixed(3)).join(' ')}`);
  }

  // 2. audit verify, on a data folder laid out as the CLI's (the store and its checkpoints file)
  const verifyDir = historyDir ?? join(root, 'verify');
  mkdirSync(verifyDir, { recursive: true });
  const storePath = join(verifyDir, STORE_FILE);
  const keptPath = join(verifyDir, 'bench-history.json');
  const verifyStore = SqliteEventStore.open({ path: storePath });
  const verifySnapshots = new SqliteSnapshotStore(checkpointsFile(verifyDir, { kind: 'sqlite', path: storePath }));
  const clock = fixedClock(new Date(base));
  const kept = existsSync(keptPath) ? (JSON.parse(readFileSync(keptPath, 'utf8')) as KeptHistory) : undefined;
  let written = kept?.written ?? 0;
  let fullSeconds = kept?.fullSeconds;
  let fullEvents = kept?.fullEvents ?? verifyEvents;
  const verifiedEarlier = fullSeconds !== undefined;
  const keep = () => {
    if (historyDir) writeFileSync(keptPath, JSON.stringify({ written, fullSeconds, fullEvents } satisfies KeptHistory));
  };
  if (written < verifyEvents) {
    progress(`writing ${fmt(verifyEvents - written)} events${written ? ` after the ${fmt(written)} kept` : ''}`);
    await write(verifyStore, written, verifyEvents, true);
    written = verifyEvents;
    keep();
  }
  if (values['write-only']) {
    await verifySnapshots.close();
    await verifyStore.close();
    console.log(`history written: ${fmt(written)} bench events in ${verifyDir}`);
    cleanUp();
    process.exit(0);
  }
  if (fullSeconds === undefined) {
    progress(`a full audit verify of ${fmt(written)} events`);
    // As `failsafe audit verify` runs: the verification's own snapshot cadence, not --every (the replays').
    fullSeconds = await timed(() => verifyAndRecord(verifyStore, defaultRollbackPolicy, verifySnapshots, clock));
    fullEvents = written;
    keep();
  }
  // A kept history written further since it was verified (--write-only) is verified up to its end first.
  let catchUp: { seconds: number; events: number } | undefined;
  if (verifiedEarlier) {
    progress(`going on with the verified history of ${fmt(written)} events in ${verifyDir}: verifying what is new`);
    let run: Awaited<ReturnType<typeof verifyAndRecord>> | undefined;
    const seconds = await timed(async () => {
      run = await verifyAndRecord(verifyStore, defaultRollbackPolicy, verifySnapshots, clock);
    });
    if (run?.mode !== 'incremental') throw new Error(`the kept history was verified in full: ${run?.why}`);
    catchUp = { seconds, events: run.report.eventsThisRun };
  }
  const incremental: number[] = [];
  // CPU time of this process beside the wall time: on a machine shared with other work it varies less.
  const incrementalCpu: number[] = [];
  const wholeCommand: number[] = [];
  let last: Awaited<ReturnType<typeof verifyAndRecord>> | undefined;
  for (let round = 0; round < rounds; round += 1) {
    progress(`${fmt(tail)} new events, then audit verify (round ${round + 1} of ${rounds})`);
    await write(verifyStore, written, written + tail);
    written += tail;
    keep();
    let run: Awaited<ReturnType<typeof verifyAndRecord>> | undefined;
    const cpuBefore = process.cpuUsage();
    incremental.push(
      await timed(async () => {
        run = await verifyAndRecord(verifyStore, defaultRollbackPolicy, verifySnapshots, clock);
      }),
    );
    const cpu = process.cpuUsage(cpuBefore);
    incrementalCpu.push((cpu.user + cpu.system) / 1e6);
    if (run?.mode !== 'incremental') throw new Error(`round ${round + 1} verified in full: ${run?.why}`);
    last = run;
    if (values.cli) {
      await write(verifyStore, written, written + tail);
      written += tail;
      keep();
      wholeCommand.push(cliVerifySeconds(verifyDir));
    }
  }
  // Verifying a kept 10 M history again from the start would take a quarter of an hour or more.
  const fullCheck = verifiedEarlier
    ? undefined
    : await verifyAndRecord(verifyStore, defaultRollbackPolicy, verifySnapshots, clock, { fromStart: true });
  await verifySnapshots.close();
  await verifyStore.close();

  const verifyMedian = median(incremental);
  const loadEnd = loadAverage();
  printGrid(
    ['measure', 'value', 'aim'],
    [
      ...replayRows,
      [
        `full audit verify of ${fmt(fullEvents)} events${verifiedEarlier ? ' (an earlier run)' : ''}, s`,
        fmt(fullSeconds, 2),
        '',
      ],
      ...(catchUp
        ? [
            [
              `verify what was written since the last run (${fmt(catchUp.events)} events), s`,
              fmt(catchUp.seconds, 2),
              '',
            ],
          ]
        : []),
      [`audit verify after ${fmt(tail)} new events, median of ${rounds}, s`, fmt(verifyMedian, 3), '<= 1'],
      ['  full / incremental', fmt(fullSeconds / verifyMedian, 1), ''],
      [`  its CPU time, median of ${rounds}, s`, fmt(median(incrementalCpu), 3), ''],
      ...(values.cli
        ? [[`  the whole command, failsafe audit verify, median of ${rounds}, s`, fmt(median(wholeCommand), 3), '']]
        : []),
      [
        `incremental runs equal a full re-run (--from-start) at the end`,
        fullCheck ? String(isDeepStrictEqual(verdicts(last?.report), verdicts(fullCheck.report))) : 'not run',
        'true',
      ],
    ],
  );
  console.log(`audit verify, each (s): ${incremental.map((s) => s.toFixed(3)).join(' ')}`);
  console.log(`audit verify, CPU time each (s): ${incrementalCpu.map((s) => s.toFixed(3)).join(' ')}`);
  if (values.cli) console.log(`failsafe audit verify, each (s): ${wholeCommand.map((s) => s.toFixed(3)).join(' ')}`);
  console.log(`history verified: ${fmt(written)} bench events in ${verifyDir}`);
  console.log(`load average ${loadStart} at the start, ${loadEnd} at the end`);
  if (quick) {
    cleanUp();
    reportQuick([
      ...(replayRatio === undefined
        ? []
        : [
            {
              name: 'replay --at: from zero / from snapshots (ratio)',
              value: replayRatio,
              aim: total / every / 2,
              higherIsBetter: true,
            },
          ]),
      {
        name: 'audit verify: full / incremental (ratio)',
        value: fullSeconds / verifyMedian,
        // A run has a fixed cost (its snapshot read and saved, its record appended), so the ratio stays
        // well under verifyEvents / tail at quick sizes; an incremental run that re-verified everything gives about 1.
        aim: Math.min(4, verifyEvents / tail / 2),
        higherIsBetter: true,
      },
    ]);
  }
} finally {
  cleanUp();
}
