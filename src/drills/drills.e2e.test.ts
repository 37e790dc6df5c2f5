import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type ToxicSpec } from './toxiproxy.js';
import { collect } from '../event-store/event-store.contract.js';
import { decodeEvent, type EventData } from '../events/catalogue.js';
import type { Drill } from './drill-file.js';
import { runDrill } from './drill-runner.js';
import { drillsDir, missingDrillTools, short, startDrillBench, type DrillBench } from './drill.fixture.js';
import type { Scorecard } from './scorecard.js';
import { drillStream, healthStream } from '../domain/streams.js';

const missing = missingDrillTools();

const bin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));
const failsafe = (args: string[]): Promise<{ status: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ status: error ? Number(error.code ?? -1) : 0, stdout, stderr }),
    );
  });

let bench: DrillBench;
let lines: string[] = [];

const run = async (drill: Drill, on = bench): Promise<Scorecard> => {
  lines = [];
  return runDrill(drill, {
    store: on.store,
    toxiproxy: on.toxiproxy,
    targetAddress: on.targetAddress,
    approver: on.approver,
    log: (l) => lines.push(l),
  });
};
/** The health samples the bench's prober recorded of one release of the sample service. */
const samplesOf = async (release: string): Promise<EventData<'HealthSampleRecorded'>[]> =>
  (await collect(bench.store.readStream(healthStream('sample'))))
    .map(decodeEvent)
    .flatMap((e) => (e.type === 'HealthSampleRecorded' && e.data.release === release ? [e.data] : []));
const failures = (card: Scorecard) => card.expectations.filter((e) => !e.passed);
const at = (card: Scorecard, kind: string, label: string | RegExp) =>
  card.timeline.find((t) => t.kind === kind && (typeof label === 'string' ? t.label === label : label.test(t.label)))
    ?.at;
/**
 * The service was restored, and judged so, while the fault still held: the fault is healed only at
 * cleanup, after the verification passed.
 */
const restoredWithFaultOn = (card: Scorecard, fault: string) => {
  const healed = at(card, 'heal', `${fault} healed`)!;
  expect(at(card, 'recovery', /./)).toBeLessThan(healed);
  expect(at(card, 'step', 'verify passed')).toBeLessThan(healed);
};

/** GET /metrics over a raw socket (through a proxy): how many bytes came, in how many reads, how fast. */
const readMetrics = (address: string): Promise<{ bytes: number; reads: number; ms: number }> =>
  new Promise((resolve) => {
    const started = performance.now();
    let [bytes, reads] = [0, 0];
    const [host, port] = address.split(':') as [string, string];
    const socket = connect(Number(port), host, () =>
      socket.write('GET /metrics HTTP/1.1\r\nHost: sample\r\nConnection: close\r\n\r\n'),
    );
    socket.setTimeout(30_000, () => socket.destroy());
    socket.on('data', (chunk) => {
      bytes += chunk.length;
      reads += 1;
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ bytes, reads, ms: performance.now() - started }));
  });

describe.skipIf(missing.length > 0)(
  'the shipped drills, short versions, against the real sample fleet, Toxiproxy and k6',
  () => {
    beforeAll(async () => {
      bench = await startDrillBench();
    }, 60_000);
    afterAll(async () => {
      await bench?.stop();
    });

    it('high-error-rate: the bad release is rolled back automatically by the error-rate rule', async () => {
      const card = await run(short('high-error-rate'));
      expect([card.abortReason, ...failures(card)], lines.join('\n')).toEqual([undefined]);
      expect(card.outcome).toBe('passed');
      expect(card.expectations[0]!.detail).toMatch(/by rule error_rate_critical$/);
      expect(card.timeToDetectMs).toBeLessThan(30_000);
      expect(card.timeToRecoverMs).toBeLessThan(60_000);
      // The fault was felt under load. How much of the phase it filled depends on how fast the
      // rollback came (about 2 s of the phase at 20 requests/s), so no share is asserted.
      const { during, before } = card.load;
      expect(Math.round(during!.errorRate * during!.requests)).toBeGreaterThan(0);
      expect(during!.errorRate).toBeGreaterThan(before!.errorRate);
      expect(card.load.after!.errorRate).toBeLessThan(0.05);
      // One failure: errors, and no circuit breaker opened on the way.
      const bad = await samplesOf('v2.0.0-errors');
      expect(bad.filter((s) => (s.requests?.errors ?? 0) > 0).length).toBeGreaterThan(0);
      expect(bad.flatMap((s) => s.openCircuitBreakers ?? [])).toEqual([]);
      const types = (await collect(bench.store.readStream(drillStream(card.runId)))).map((e) => e.type);
      expect(types[0]).toBe('DrillStarted');
      expect(types).toEqual(expect.arrayContaining(['DrillFaultInjected', 'DrillExpectationEvaluated']));
      expect(types.at(-1)).toBe('DrillFinished');
    }, 150_000);

    it('dependency-latency: 6 s on the link, the latency rule rolls back to the release off that link', async () => {
      // A toxic a crashed drill left behind is removed before the drill starts.
      await bench.toxiproxy.addToxic('sample-to-inventory', {
        name: 'drill-left-behind',
        type: 'timeout',
        stream: 'downstream',
        toxicity: 1,
        attributes: { timeout: 0 },
      });
      const card = await run(short('dependency-latency'));
      expect(lines).toContainEqual(
        expect.stringMatching(/removed toxics a previous drill left on sample-to-inventory: drill-left-behind/),
      );
      expect([card.abortReason, ...failures(card)], lines.join('\n')).toEqual([undefined]);
      expect(card.expectations[0]!.detail).toMatch(/by rule latency_p95_critical$/);
      expect(card.load.during!.p95Ms).toBeGreaterThan(5000);
      expect(card.load.after!.p95Ms).toBeLessThan(2000);
      restoredWithFaultOn(card, 'slow-dependency');
      expect(await bench.toxiproxy.toxics('sample-to-inventory')).toEqual([]);
    }, 150_000);

    it('dependency-down: the link resets then hangs, the health rule rolls back to the release off it', async () => {
      const card = await run(short('dependency-down', 30_000));
      expect([card.abortReason, ...failures(card)], lines.join('\n')).toEqual([undefined]);
      expect(card.expectations[0]!.detail).toMatch(/by rule health_check_failures$/);
      expect(card.timeline.filter((t) => t.kind === 'fault').map((t) => t.label)).toEqual([
        'reset-dependency injected',
        'hang-dependency injected',
      ]);
      restoredWithFaultOn(card, 'hang-dependency');
      expect(await bench.toxiproxy.toxics('sample-to-inventory')).toEqual([]);
    }, 150_000);

    it('dependency-slow: 1 s on the link keeps the P95 under the thresholds and nothing rolls back', async () => {
      const card = await run(short('dependency-slow', 30_000));
      expect([card.abortReason, ...failures(card)], lines.join('\n')).toEqual([undefined]);
      expect(card.expectations[0]!.detail).toBe('no rollback decided or started');
      // The fault was real: lookups took the 1 s, during the drill and after it.
      expect(card.load.during!.p95Ms).toBeGreaterThan(1000);
      expect(card.load.after!.p95Ms).toBeGreaterThan(1000);
      expect(card.timeline.filter((t) => t.kind === 'decision')).toEqual([]);
    }, 150_000);

    it('dependency-slow fails when a rollback happens: the same drill with 6 s on the link', async () => {
      const drill = short('dependency-slow', 30_000);
      const [fault] = drill.faults;
      if (fault?.kind !== 'toxic') throw new Error('dependency-slow injects a toxic');
      const toxic = { type: 'latency', attributes: { latency: 6000, jitter: 0 } } as const;
      const card = await run({ ...drill, faults: [{ ...fault, toxic }] });
      expect([card.outcome, card.abortReason], lines.join('\n')).toEqual(['failed', undefined]);
      expect(failures(card).map((f) => [f.expectation, f.detail])).toEqual([
        ['no rollback during 30.0 s', expect.stringMatching(/^a rollback started after \d+\.\d s$/)],
        ['release_after v1.1.0', 'the service runs v1.0.0'],
      ]);
      expect(card.timeline.find((t) => t.kind === 'decision')?.label).toMatch(
        /^automatic decided by latency_p95_critical/,
      );
    }, 150_000);

    it('circuit-breaker: the breaker rule disables the tool whose breaker stays open, the release stays', async () => {
      const card = await run(short('circuit-breaker'));
      expect([card.abortReason, ...failures(card)], lines.join('\n')).toEqual([undefined]);
      expect(card.expectations[0]!.detail).toMatch(/by rule circuit_breaker_open$/);
      // Recovered when the tool was disabled, after the breaker had been open for the rule's 10 s.
      expect(card.timeToRecoverMs).toBeGreaterThan(10_000);
      expect(at(card, 'recovery', 'tool refund disabled')).toBeDefined();
      // One failure: refund's breaker, open throughout, and no failing call (refund answers from its
      // fallback), so that the feature-bug rule has nothing to see.
      const samples = (await samplesOf('v2.0.0-breaker')).filter(
        (s) => Date.parse(s.sampledAt) >= Date.parse(card.startedAt),
      );
      expect(samples.length).toBeGreaterThan(5);
      expect(new Set(samples.flatMap((s) => s.openCircuitBreakers ?? []))).toEqual(new Set(['refund']));
      expect(samples.flatMap((s) => s.tools ?? []).filter((t) => t.errors > 0)).toEqual([]);
    }, 150_000);

    it('stalled-migration: a manual rollback is approved over MCP and the migration reverted', async () => {
      const card = await run(short('stalled-migration', 40_000));
      expect([card.abortReason, ...failures(card)], lines.join('\n')).toEqual([undefined]);
      expect(card.expectations[0]!.detail).toMatch(/by rule migration_stalled$/);
      expect(card.timeline.map((t) => t.label)).toContainEqual(
        expect.stringMatching(/approved by drill-approver over MCP 2026-07-28/),
      );
    }, 150_000);

    it('bandwidth, slicer and limit_data, which no drill injects, do what they say on the real Toxiproxy', async () => {
      const listen = `127.0.0.1:${await freePort()}`;
      await bench.toxiproxy.proxy('drill-toxics-check', listen, new URL(bench.targetAddress).host);
      const inject = async (type: ToxicSpec['type'], attributes: Record<string, number>) => {
        await bench.toxiproxy.removeToxics('drill-toxics-check', '');
        await bench.toxiproxy.addToxic('drill-toxics-check', {
          name: type,
          type,
          stream: 'downstream',
          toxicity: 1,
          attributes,
        });
        return readMetrics(listen);
      };
      try {
        const plain = await readMetrics(listen);
        expect(plain.bytes).toBeGreaterThan(4000);
        const throttled = await inject('bandwidth', { rate: 4 });
        expect(throttled.bytes).toBeGreaterThan(4000);
        // 4 KB/s: no faster than the rate allows (minus a margin for the first buffer).
        expect(throttled.ms).toBeGreaterThan((throttled.bytes / 4096) * 1000 * 0.7);
        const sliced = await inject('slicer', { average_size: 64, size_variation: 0, delay: 10_000 });
        expect(sliced.bytes).toBeGreaterThan(4000);
        // 64-byte slices 10 ms apart arrive as many reads (a quarter of them at least, however busy the reader).
        expect(sliced.reads).toBeGreaterThan(sliced.bytes / 64 / 4);
        expect(plain.reads).toBeLessThan(sliced.reads / 4);
        const cut = await inject('limit_data', { bytes: 100 });
        expect(cut.bytes).toBe(100);
      } finally {
        await bench.toxiproxy.removeProxy('drill-toxics-check');
      }
    }, 60_000);

    it('failsafe drill run: progress, the scorecard, the HTML report and the exit code for cron', async () => {
      // Asynchronously: the control plane the drill acts through runs in this very process.
      const cli = await failsafe([
        'drill',
        'run',
        'high-error-rate',
        '--drills',
        drillsDir,
        '--fleet',
        bench.fleetPath,
        '--data-dir',
        bench.dataDir,
        '--toxiproxy-url',
        bench.toxiproxy.url,
      ]);
      expect(cli.status, cli.stdout + cli.stderr).toBe(0);
      expect(cli.stdout).toMatch(/\[\s+\d+\.\d s\] steady-state: passed/);
      expect(cli.stdout).toMatch(/high-error-rate \(run-\w+\) PASSED/);
      const html = /^report: (.+)$/m.exec(cli.stdout)![1]!;
      expect(readFileSync(html, 'utf8')).toContain('<span class="verdict">PASSED</span>');
      const runId = /\((run-\w+)\) PASSED/.exec(cli.stdout)![1]!;
      const report = await failsafe(['drill', 'report', runId, '--data-dir', bench.dataDir]);
      expect(report.stdout).toMatch(/PASS rollback_decided \(automatic\) within 30\.0 s/);
      const list = await failsafe(['drill', 'list', '--drills', drillsDir, '--data-dir', bench.dataDir]);
      expect(list.stdout).toMatch(
        new RegExp(`high-error-rate\\s+0 3 1 \\* \\*\\s+next \\S+\\s+last passed at \\S+ \\(${runId}\\)`),
      );
    }, 150_000);

    it('a drill whose expectation is wrong fails, and its scorecard says which and why', async () => {
      const drill = short('high-error-rate');
      const card = await run({
        ...drill,
        expectations: [...drill.expectations, { expect: 'rollback_decided', mode: 'manual', within: 10_000 }],
      });
      expect([card.outcome, card.abortReason], lines.join('\n')).toEqual(['failed', undefined]);
      expect(failures(card)).toEqual([
        {
          expectation: 'rollback_decided (manual) within 10.0 s',
          passed: false,
          detail: expect.stringMatching(/^a automatic rollback was decided \(rule error_rate_critical\), not manual$/),
        },
      ]);
      const evaluated = (await collect(bench.store.readStream(drillStream(card.runId)))).filter(
        (e) => e.type === 'DrillExpectationEvaluated',
      );
      expect(evaluated.map((e) => e.data.passed)).toEqual([true, true, true, true, true, true, false]);
    }, 150_000);
  },
);

/**
 * What each shipped drill must report with Failsafe's policy off: the expectations only Failsafe's
 * action meets. Phases are capped at 25 s: with the policy on, each of them recovers in under 15 s.
 */
const withoutPolicy: [string, string[]][] = [
  [
    'high-error-rate',
    [
      'rollback_decided (automatic) within 25.0 s',
      'rollback_completed within 25.0 s',
      'release_after v1.0.0',
      'load_after p95 < 2000 ms, errors < 5.0 %',
    ],
  ],
  [
    'dependency-latency',
    [
      'rollback_decided (automatic) within 20.0 s',
      'rollback_completed within 25.0 s',
      'release_after v1.0.0',
      'healthy_after',
      'load_after p95 < 2000 ms, errors < 5.0 %',
    ],
  ],
  [
    'dependency-down',
    [
      'rollback_decided (automatic) within 25.0 s',
      'rollback_completed within 25.0 s',
      'release_after v1.0.0',
      'healthy_after',
    ],
  ],
  ['circuit-breaker', ['rollback_decided (disable_feature) within 25.0 s', 'tool_disabled refund within 25.0 s']],
  ['stalled-migration', ['rollback_decided (manual) within 25.0 s', 'migration_reverted within 25.0 s']],
];

describe.skipIf(missing.length > 0)(
  "the shipped drills fail with Failsafe's policy off (a policy without rules)",
  () => {
    let off: DrillBench;
    beforeAll(async () => {
      off = await startDrillBench({ policy: 'off' });
    }, 60_000);
    afterAll(async () => {
      await off?.stop();
    });

    it.each(withoutPolicy)(
      '%s fails: what only Failsafe does is not done',
      async (name, unmet) => {
        const card = await run(short(name, 25_000), off);
        expect([card.outcome, card.abortReason], lines.join('\n')).toEqual(['failed', undefined]);
        expect(failures(card).map((f) => f.expectation)).toEqual(unmet);
        expect(failures(card)[0]!.detail).toBe('no rollback was decided');
        expect(card.timeline.filter((t) => t.kind === 'decision' || t.kind === 'recovery')).toEqual([]);
      },
      150_000,
    );
  },
);
