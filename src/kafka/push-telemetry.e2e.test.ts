import { Kafka, logLevel } from 'kafkajs';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drillReportHtml } from '../drills/drill-report.js';
import { runDrill } from '../drills/drill-runner.js';
import { drillsDir, missingDrillTools, short, writeDrillFleet } from '../drills/drill.fixture.js';
import { loadDrill } from '../drills/drill-file.js';
import { freePort, ToxiproxyControl } from '../drills/toxiproxy.js';
import { ProcessDriver } from '../drivers/process-driver.js';
import { collect } from '../event-store/event-store.contract.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { decodeEvent, type TypedRecordedEvent } from '../events/catalogue.js';
import { type KafkaBroker, startKafkaBroker } from '../testing/kafka-broker.js';
import { parseTelemetryMessage } from './telemetry-message.js';
import { drillStream, healthStream, serviceStream, telemetryStream } from '../domain/streams.js';

const missing = missingDrillTools();
const bin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));
const SAMPLES = 'push-e2e.samples';
const KAFKA_PROXY = 'failsafe-to-kafka';

/** Every message id on the samples topic, read from its beginning through the broker's direct listener. */
async function idsOnTopic(brokers: readonly string[]): Promise<string[]> {
  const kafka = new Kafka({ brokers: [...brokers], clientId: 'push-e2e-reader', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const end = (await admin.fetchTopicOffsets(SAMPLES)).reduce((n, p) => n + Number(p.high), 0);
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `push-e2e-reader-${end}-${performance.now()}` });
  const ids: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic: SAMPLES, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const parsed = parseTelemetryMessage(message.value, 65_536);
      ids.push(parsed.ok ? parsed.message.id : `unreadable: ${parsed.reason}`);
    },
  });
  const deadline = performance.now() + 30_000;
  while (ids.length < end && performance.now() < deadline) await sleep(100);
  await consumer.disconnect();
  return ids;
}

describe.skipIf(missing.length > 0)(
  'a service pushing its telemetry through a real broker, failsafe serve behind Toxiproxy',
  () => {
    let broker: KafkaBroker;
    let dir: string;
    let dataDir: string;
    let serve: ChildProcess;
    let output = '';
    let store: SqliteEventStore;
    let toxiproxy: ToxiproxyControl;
    let targetAddress: string;
    let lines: string[] = [];

    const events = async (stream: string): Promise<TypedRecordedEvent[]> =>
      (await collect(store.readStream(stream))).map(decodeEvent);
    const waitFor = async <T>(what: string, find: () => Promise<T | undefined>, timeoutMs: number): Promise<T> => {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const found = await find();
        if (found !== undefined) return found;
        if (performance.now() > deadline)
          throw new Error(`${what}: not within ${timeoutMs} ms\n${output.slice(-4000)}`);
        await sleep(250);
      }
    };
    const run = (drill: Parameters<typeof runDrill>[0]) => {
      lines = [];
      return runDrill(drill, { store, toxiproxy, targetAddress, log: (l) => lines.push(l) });
    };

    beforeAll(async () => {
      const kafkaProxy = await freePort();
      broker = await startKafkaBroker({ proxied: { advertisedPort: kafkaProxy } });
      dir = mkdtempSync(join(tmpdir(), 'failsafe-push-'));
      dataDir = join(dir, 'data');
      const fleet = join(dir, 'fleet.yaml');
      const { service, api } = await writeDrillFleet(fleet, {
        sample: ['    telemetry: push'],
        proxies: [
          `    - { name: ${KAFKA_PROXY}, listen: "127.0.0.1:${kafkaProxy}", upstream: "${broker.proxiedUpstream}" }`,
        ],
      });
      targetAddress = `http://127.0.0.1:${service}`;
      toxiproxy = new ToxiproxyControl(`http://127.0.0.1:${api}`);
      const config = join(dir, 'config.yaml');
      writeFileSync(
        config,
        [
          'kafka:',
          `  brokers: ["127.0.0.1:${kafkaProxy}"]`,
          '  telemetry:',
          `    pushBrokers: ["${broker.brokers[0]}"]`,
          `    samplesTopic: ${SAMPLES}`,
          '    noticesTopic: push-e2e.notices',
          '    deadLetterTopic: push-e2e.dead-letter',
          '    staleAfterSeconds: 3',
          '  feed: { enabled: false }',
        ].join('\n'),
      );
      const args = ['serve', '--port', '0', '--data-dir', dataDir, '--fleet', fleet, '--config', config];
      serve = spawn(process.execPath, [bin, ...args, '--tick-seconds', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output}`)), 60_000);
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          if (/listening on http/.test(output)) {
            clearTimeout(timer);
            resolve();
          }
        };
        serve.stdout!.on('data', onData);
        serve.stderr!.on('data', onData);
        serve.once('exit', (code) => reject(new Error(`serve exited with ${code}:\n${output}`)));
      });
      store = SqliteEventStore.open({ path: join(dataDir, 'failsafe.db') });
    }, 120_000);

    afterAll(async () => {
      await store?.close();
      if (serve && serve.exitCode === null) {
        const exited = new Promise((resolve) => serve.once('exit', resolve));
        serve.kill('SIGTERM');
        await exited;
      }
      // The fleet outlives Failsafe by design: a test ends it for good.
      if (dataDir) await ProcessDriver.stopAllRecorded(join(dataDir, 'fleet'));
      await broker?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }, 60_000);

    it('rolls a bad release back on the samples it pushed, as it would on probed ones', async () => {
      const card = await run(short('high-error-rate'));
      expect([card.abortReason, ...card.expectations.filter((e) => !e.passed)], lines.join('\n')).toEqual([undefined]);
      expect(card.expectations[0]!.detail).toMatch(/by rule error_rate_critical$/);
      const samples = (await events(healthStream('sample'))).filter((e) => e.type === 'HealthSampleRecorded');
      // Every sample of the pushing service came through Kafka: the prober left it alone.
      expect(new Set(samples.map((e) => e.metadata.actor))).toEqual(new Set(['failsafe:kafka']));
      const bad = samples.flatMap((e) => (e.data.release === 'v2.0.0-errors' ? [e.data] : []));
      const failing = (s: (typeof bad)[number]) => (s.requests?.errors ?? 0) > 0.1 * (s.requests?.total ?? 0);
      expect(bad.filter((s) => (s.requests?.total ?? 0) > 0 && failing(s)).length).toBeGreaterThan(0);
      // The figures the prober would record: the MCP handshake, latency percentiles, memory, per-tool calls.
      expect(bad).toContainEqual(
        expect.objectContaining({
          healthy: true,
          mcp: expect.objectContaining({ toolCount: 5 }),
          latencyMs: expect.objectContaining({ p95: expect.any(Number) }),
          memory: expect.objectContaining({ usedRatio: expect.any(Number) }),
          tools: expect.arrayContaining([expect.objectContaining({ name: 'add' })]),
        }),
      );
      // Named as the driver names the instance: the service and the instance's pid.
      const instance = samples.at(-1)!.data.instance;
      expect(instance).toMatch(/^sample-\d+$/);
      const environ = readFileSync(`/proc/${instance.slice('sample-'.length)}/environ`, 'utf8').split('\0');
      expect(environ).toContain(`FAILSAFE_TELEMETRY_TOPIC=${SAMPLES}`);
      expect(environ).toContain(`FAILSAFE_TELEMETRY_BROKERS=${broker.brokers[0]}`);
    }, 180_000);

    it('raises stale telemetry while the link to Kafka is cut, clears it after the heal, no rollback', async () => {
      const from = await store.headPosition();
      const after = async (stream: string, position: bigint, type: string) =>
        (await events(stream)).find((e) => e.position > position && e.type === type);
      const lastSample = async () => (await events(healthStream('sample'))).at(-1)?.id;
      // Latency on the link: the samples come later, none is lost (checked at the end).
      await toxiproxy.addToxic(KAFKA_PROXY, {
        name: 'slow',
        type: 'latency',
        stream: 'downstream',
        toxicity: 1,
        attributes: { latency: 400, jitter: 100 },
      });
      const before = await lastSample();
      await waitFor(
        'a sample recorded through the slow link',
        async () => ((await lastSample()) !== before ? true : undefined),
        30_000,
      );
      await toxiproxy.removeToxic(KAFKA_PROXY, 'slow');
      const cut = await store.headPosition();
      await toxiproxy.addToxic(KAFKA_PROXY, {
        name: 'cut',
        type: 'timeout',
        stream: 'downstream',
        toxicity: 1,
        attributes: { timeout: 0 },
      });
      let stale: TypedRecordedEvent;
      try {
        const raised = () => after(telemetryStream('sample'), cut, 'TelemetryStale');
        stale = await waitFor('TelemetryStale during the cut', raised, 30_000);
        expect(stale.data).toMatchObject({ service: 'sample', staleAfterSeconds: 3 });
        await sleep(3_000);
      } finally {
        await toxiproxy.removeToxic(KAFKA_PROXY, 'cut');
      }
      const resumed = () => after(telemetryStream('sample'), stale.position, 'TelemetryResumed');
      await waitFor('TelemetryResumed after the heal', resumed, 60_000);
      // (The previous test's rollback may still record its verification meanwhile: not a new rollback.)
      const decisions = (await events(serviceStream('sample'))).filter(
        (e) => e.position > from && ['RollbackDecided', 'RollbackRequested', 'RollbackStarted'].includes(e.type),
      );
      expect(decisions.map((e) => e.type)).toEqual([]);
    }, 150_000);

    it('telemetry-outage, short version: an incident opened and resolved, no rollback, in the report', async () => {
      const drill = loadDrill(join(drillsDir, 'telemetry-outage.yaml'));
      const card = await run({
        ...drill,
        load: { ...drill.load, before: 3000, during: 40_000, after: 5000 },
        faults: drill.faults.map((f) => (f.kind === 'toxic' ? { ...f, until: 10_000 } : f)),
        expectations: drill.expectations.map((e) =>
          e.expect === 'incident_opened'
            ? { ...e, within: 10_000 }
            : 'within' in e
              ? { ...e, within: 40_000 }
              : 'during' in e
                ? { ...e, during: 40_000 }
                : e,
        ),
      });
      expect([card.abortReason, ...card.expectations.filter((e) => !e.passed)], lines.join('\n')).toEqual([undefined]);
      expect(card.expectations.map((e) => e.expectation)).toEqual([
        'incident_opened (telemetry_stale) within 10.0 s',
        'incident_resolved within 40.0 s',
        'no rollback during 40.0 s',
        'release_after v1.0.0',
        'healthy_after',
      ]);
      // Detected when the incident opened, recovered when it resolved (after the heal, 10 s in).
      expect(card.timeToDetectMs).toBeLessThanOrEqual(10_000);
      expect(card.timeToRecoverMs).toBeGreaterThanOrEqual(10_000);
      const html = drillReportHtml(card);
      expect(html).toContain('incident_opened (telemetry_stale) within 10.0 s');
      expect(html).toContain('incident opened: telemetry_stale');
      expect(html).toContain('incident resolved: telemetry resumed');
      const recorded = (await collect(store.readStream(drillStream(card.runId)))).map((e) => e.type);
      expect(recorded).toEqual(expect.arrayContaining(['DrillFaultInjected', 'DrillFaultHealed']));
    }, 180_000);

    it('recorded every sample on the topic exactly once, through the latency, the cut and the drills', async () => {
      const storedIds = async () => (await collect(store.readStream(healthStream('sample')))).map((e) => e.id);
      // Recorded first, then the topic read: samples keep coming, and none recorded may be missing from it.
      const recordedBefore = await storedIds();
      const onTopic = await idsOnTopic(broker.brokers);
      expect(onTopic.length).toBeGreaterThan(20);
      expect(onTopic.filter((id) => id.startsWith('unreadable'))).toEqual([]);
      expect(recordedBefore.filter((id) => !onTopic.includes(id))).toEqual([]);
      const recorded = await waitFor(
        'every sample on the topic recorded',
        async () => {
          const ids = await storedIds();
          return onTopic.every((id) => ids.includes(id)) ? ids : undefined;
        },
        60_000,
      );
      expect(recorded.length).toBe(new Set(recorded).size);
    }, 120_000);
  },
);
