import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerServices } from '../application/register-services.js';
import { kafkaConfigSchema, type KafkaConfig } from '../config/kafka-config.js';
import { freePort } from '../drills/toxiproxy.js';
import { TsxChild } from '../event-store/child-process.fixture.js';
import type { EventStore } from '../event-store/event-store.js';
import { MemoryEventStore } from '../event-store/memory-event-store.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { startKafkaBroker, type KafkaBroker } from '../testing/kafka-broker.js';
import { TelemetryConsumer, type TelemetryOutcome } from './telemetry-consumer.js';
import { noticeEventIds } from './telemetry-recorder.js';
import { healthStream, serviceStream } from '../domain/streams.js';

const client = (brokers: readonly string[]) =>
  new Kafka({ brokers: [...brokers], clientId: 'telemetry-test', logLevel: logLevel.NOTHING });

const sampleMessage = (service: string, id = uuidv7()) => ({
  schemaVersion: 1,
  kind: 'health_sample',
  id,
  sample: {
    service,
    instance: `${service}-1`,
    sampledAt: '2026-12-01T10:00:00.000Z',
    healthy: true,
    healthLatencyMs: 3,
  },
});

const noticeMessage = (service: string, deploymentId: string, status: string, id = uuidv7()) => ({
  schemaVersion: 1,
  kind: 'deployment_notice',
  id,
  notice: { service, release: 'v2', deploymentId, status, at: '2026-12-01T10:00:00.000Z', by: 'ci:pipeline' },
});

/** A real store that can be made unavailable: appends and event lookups fail while it is down. */
class FailingStore extends MemoryEventStore {
  down = false;
  attempts = 0;
  override async append(...args: Parameters<MemoryEventStore['append']>) {
    this.check();
    return super.append(...args);
  }
  override async readEvent(id: string) {
    this.check();
    return super.readEvent(id);
  }
  private check() {
    if (!this.down) return;
    this.attempts += 1;
    throw new Error('the store is unavailable');
  }
}

const idsOf = async (store: EventStore, stream: string) => {
  const ids: string[] = [];
  for await (const event of store.readStream(stream)) ids.push(event.id);
  return ids;
};

describe('the Kafka telemetry consumer', () => {
  let broker: KafkaBroker;
  let producer: Producer;
  let dir: string;
  let topics = 0;
  const running: { stop(): Promise<void> }[] = [];

  /** A configuration of its own for each test: topics and group apart. */
  const configFor = (): KafkaConfig => {
    topics += 1;
    return kafkaConfigSchema.parse({
      brokers: broker.brokers,
      clientId: `telemetry-test-${topics}`,
      telemetry: {
        samplesTopic: `samples-${topics}`,
        noticesTopic: `notices-${topics}`,
        deadLetterTopic: `dead-${topics}`,
        groupId: `group-${topics}`,
        maxMessageBytes: 2048,
      },
    });
  };

  const publish = async (topic: string, values: readonly unknown[]) => {
    const messages = values.map((v) => ({
      value: Buffer.isBuffer(v) ? v : Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)),
    }));
    for (let i = 0; i < messages.length; i += 1_000)
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 1_000) });
  };

  /** Starts a consumer and counts what it did by outcome. */
  const consume = (kafka: KafkaConfig, store: EventStore) => {
    const counts: Record<TelemetryOutcome, number> = { recorded: 0, duplicate: 0, dead_lettered: 0 };
    const consumer = new TelemetryConsumer({
      kafka,
      store,
      onMessages: (_, outcome, n) => {
        counts[outcome] += n;
      },
    });
    consumer.start();
    running.push(consumer);
    return { consumer, counts };
  };

  /** The dead-letter topic's messages: value and headers as text. */
  const deadLetters = async (kafka: KafkaConfig, expected: number) => {
    const consumer = client(broker.brokers).consumer({ groupId: `reader-${uuidv7()}` });
    const read: { value: string; headers: Record<string, string> }[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: kafka.telemetry.deadLetterTopic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
        read.push({ value: message.value?.toString() ?? '', headers });
      },
    });
    await vi.waitFor(() => expect(read.length).toBeGreaterThanOrEqual(expected), { timeout: 60_000, interval: 200 });
    await consumer.disconnect();
    return read;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-inbound-'));
    broker = await startKafkaBroker({
      settings: { 'broker.session.timeout.ms': '3000', 'broker.heartbeat.interval.ms': '1000' },
    });
    producer = client(broker.brokers).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  }, 120_000);

  afterEach(async () => {
    for (const consumer of running.splice(0)) await consumer.stop();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const registered = async (store: EventStore, ...services: string[]) => {
    await registerServices(store, services, { actor: 'test', now: new Date(), source: 'fleet' });
    return store;
  };

  it('records each published sample once, its message id the event id, in its service health stream', async () => {
    const kafka = configFor();
    const store = await registered(new MemoryEventStore(), 'orders', 'billing');
    const messages = Array.from({ length: 300 }, (_, i) => sampleMessage(i % 3 === 0 ? 'billing' : 'orders'));
    const { consumer, counts } = consume(kafka, store);
    await publish(kafka.telemetry.samplesTopic, messages);
    await vi.waitFor(() => expect(counts.recorded).toBe(300), { timeout: 60_000, interval: 200 });
    const expected = (service: string) => messages.filter((m) => m.sample.service === service).map((m) => m.id);
    expect(await idsOf(store, healthStream('orders'))).toEqual(expected('orders'));
    expect(await idsOf(store, healthStream('billing'))).toEqual(expected('billing'));
    expect(await store.getStreamMetadata(healthStream('orders'))).toEqual({
      maxAgeSeconds: 604_800,
      maxCount: 100_000,
    });
    // Samples count once written; the lag once their batch is committed, a moment later.
    await vi.waitFor(
      () =>
        expect(consumer.status()).toMatchObject({
          state: 'consuming',
          lag: [{ topic: kafka.telemetry.samplesTopic, partition: 0, lag: 0 }],
        }),
      { timeout: 10_000, interval: 50 },
    );
  }, 90_000);

  it('dead-letters every kind of bad message with its reason, and records the good ones', async () => {
    const kafka = configFor();
    const store = await registered(new MemoryEventStore(), 'orders');
    const good = [sampleMessage('orders'), sampleMessage('orders')];
    const bad: [unknown, RegExp][] = [
      ['{"schemaVersion":1,', /^malformed JSON/],
      [Buffer.alloc(4096, 'x'), /^oversized: 4096 bytes/],
      [{ ...sampleMessage('orders'), schemaVersion: 2 }, /^unsupported schemaVersion 2/],
      [sampleMessage('../etc'), /sample\.service: must be/],
      [{ ...sampleMessage('orders'), id: 'not-a-uuid' }, /^invalid message: id/],
      [sampleMessage('ghost'), /^unknown service "ghost"/],
      [noticeMessage('orders', 'd-1', 'started'), /^a deployment_notice on the topic for health_sample/],
    ];
    const { counts } = consume(kafka, store);
    await publish(kafka.telemetry.samplesTopic, [good[0], ...bad.map(([value]) => value), good[1]]);
    await vi.waitFor(() => expect(counts).toEqual({ recorded: 2, duplicate: 0, dead_lettered: bad.length }), {
      timeout: 60_000,
      interval: 200,
    });
    const dead = await deadLetters(kafka, bad.length);
    expect(dead).toHaveLength(bad.length);
    bad.forEach(([value, reason], i) => {
      expect(dead[i]!.headers.reason).toMatch(reason);
      expect(dead[i]!.headers).toMatchObject({
        topic: kafka.telemetry.samplesTopic,
        partition: '0',
        offset: String(i + 1),
      });
      const bytes = Buffer.isBuffer(value)
        ? value
        : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
      expect(dead[i]!.value).toBe(bytes.toString());
    });
    expect(await idsOf(store, healthStream('orders'))).toEqual(good.map((m) => m.id));
  }, 90_000);

  it('writes nothing twice when the offsets are reset and everything is delivered again', async () => {
    const kafka = configFor();
    const store = await registered(new MemoryEventStore(), 'orders');
    const messages = Array.from({ length: 500 }, () => sampleMessage('orders'));
    // The same message twice in the topic (a producer's retry) is recorded once too.
    await publish(kafka.telemetry.samplesTopic, [...messages, messages[7]]);
    const first = consume(kafka, store);
    await vi.waitFor(() => expect(first.counts.recorded).toBe(500), { timeout: 60_000, interval: 200 });
    expect(first.counts.duplicate).toBe(1);
    await running.pop()!.stop();
    const admin = client(broker.brokers).admin();
    await admin.connect();
    await admin.resetOffsets({ groupId: kafka.telemetry.groupId, topic: kafka.telemetry.samplesTopic, earliest: true });
    await admin.disconnect();
    // Appended after the reset: a redelivered batch may now hold new samples beside old ones.
    const later = Array.from({ length: 50 }, () => sampleMessage('orders'));
    await publish(kafka.telemetry.samplesTopic, later);
    const second = consume(kafka, store);
    await vi.waitFor(() => expect(second.counts.recorded + second.counts.duplicate).toBe(551), {
      timeout: 60_000,
      interval: 200,
    });
    expect(second.counts).toEqual({ recorded: 50, duplicate: 501, dead_lettered: 0 });
    expect(await idsOf(store, healthStream('orders'))).toEqual([...messages, ...later].map((m) => m.id));
  }, 90_000);

  it('commits nothing while the store is down, backs off, and records all once it is back', async () => {
    const kafka = configFor();
    const store = (await registered(new FailingStore(), 'orders')) as FailingStore;
    const messages = Array.from({ length: 1_000 }, () => sampleMessage('orders'));
    store.down = true;
    const { consumer, counts } = consume(kafka, store);
    await publish(kafka.telemetry.samplesTopic, messages);
    await vi.waitFor(() => expect(store.attempts).toBeGreaterThan(0), { timeout: 60_000, interval: 100 });
    await sleep(3_000);
    // Backing off from 250 ms: a handful of attempts in 3 s, not a busy loop.
    expect(store.attempts).toBeLessThan(10);
    expect(consumer.status().lastError).toMatch(/the store is unavailable/);
    const admin = client(broker.brokers).admin();
    await admin.connect();
    const [committed] = await admin.fetchOffsets({
      groupId: kafka.telemetry.groupId,
      topics: [kafka.telemetry.samplesTopic],
    });
    await admin.disconnect();
    expect(committed!.partitions).toEqual([expect.objectContaining({ partition: 0, offset: '-1' })]);
    expect(counts.recorded).toBe(0);
    store.down = false;
    await vi.waitFor(() => expect(counts.recorded).toBe(1_000), { timeout: 30_000, interval: 200 });
    expect(await idsOf(store, healthStream('orders'))).toEqual(messages.map((m) => m.id));
  }, 90_000);

  it('records deployment notices through the service decider, once each, dead-lettering refusals', async () => {
    const kafka = configFor();
    const store = await registered(new MemoryEventStore(), 'orders');
    const started = noticeMessage('orders', 'd-1', 'started');
    const healthy = noticeMessage('orders', 'd-1', 'healthy');
    const unknown = noticeMessage('orders', 'd-9', 'failed');
    const { counts } = consume(kafka, store);
    await publish(kafka.telemetry.noticesTopic, [
      started,
      healthy,
      started,
      unknown,
      noticeMessage('ghost', 'd-1', 'started'),
    ]);
    await vi.waitFor(() => expect(counts).toEqual({ recorded: 2, duplicate: 1, dead_lettered: 2 }), {
      timeout: 60_000,
      interval: 200,
    });
    const dead = await deadLetters(kafka, 2);
    expect(dead.map((d) => d.headers.reason)).toEqual([
      expect.stringMatching(/^InvariantViolated \(unknown-deployment\): orders has no deployment d-9/),
      expect.stringMatching(/^InvariantViolated \(unknown-service\)/),
    ]);
    const events = [];
    for await (const e of store.readStream(serviceStream('orders'))) events.push(e);
    expect(events.slice(1).map((e) => [e.type, e.id, e.metadata.actor])).toEqual([
      ['DeploymentRequested', noticeEventIds(started.id)[0], 'ci:pipeline'],
      ['DeploymentStarted', noticeEventIds(started.id)[1], 'ci:pipeline'],
      ['DeploymentHealthy', noticeEventIds(healthy.id)[0], 'ci:pipeline'],
    ]);
  }, 90_000);

  it.each([
    ['stopped', { keep: true }],
    ['SIGKILLed', { keep: true, kill: true }],
  ])(
    'loses nothing when the broker is %s and restarted mid-stream',
    async (_, how) => {
      const kafka = configFor();
      const store = await registered(new MemoryEventStore(), 'orders');
      const before = Array.from({ length: 10_000 }, () => sampleMessage('orders'));
      const after = Array.from({ length: 2_000 }, () => sampleMessage('orders'));
      const { counts } = consume(kafka, store);
      await publish(kafka.telemetry.samplesTopic, before);
      await vi.waitFor(() => expect(counts.recorded).toBeGreaterThan(0), { timeout: 60_000, interval: 50 });
      await broker.stop(how);
      await broker.start();
      await publish(kafka.telemetry.samplesTopic, after);
      await vi.waitFor(() => expect(counts.recorded).toBe(12_000), { timeout: 90_000, interval: 500 });
      expect(await idsOf(store, healthStream('orders'))).toEqual([...before, ...after].map((m) => m.id));
    },
    180_000,
  );

  it('keeps every sample exactly once when Failsafe is SIGKILLed mid-batch and restarted', async () => {
    const kafka = configFor();
    const path = join(dir, 'killed.db');
    const setup = SqliteEventStore.open({ path });
    await registered(setup, 'orders');
    await setup.close();
    const messages = Array.from({ length: 20_000 }, () => sampleMessage('orders'));
    await publish(kafka.telemetry.samplesTopic, messages);
    const worker = new URL('./telemetry-consumer-worker.fixture.ts', import.meta.url);
    const first = new TsxChild(worker, [path, JSON.stringify(kafka)]);
    try {
      await first.waitForLine((line) => line.startsWith('batch'), 60_000);
    } finally {
      await first.kill();
    }
    const second = new TsxChild(worker, [path, JSON.stringify(kafka)]);
    const store = SqliteEventStore.open({ path });
    try {
      await vi.waitFor(async () => expect(await idsOf(store, healthStream('orders'))).toHaveLength(20_000), {
        timeout: 120_000,
        interval: 500,
      });
      expect(await idsOf(store, healthStream('orders'))).toEqual(messages.map((m) => m.id));
      expect(second.running).toBe(true);
    } finally {
      await second.kill();
      await store.close();
    }
  }, 240_000);

  const bin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));

  /** `failsafe serve` on a free port with these brokers; resolves once it listens. */
  async function serve(brokers: string) {
    const dataDir = mkdtempSync(join(dir, 'serve-'));
    const env = { ...process.env, FAILSAFE_ADMIN_TOKEN: '', FAILSAFE_KAFKA_BROKERS: brokers };
    const server = spawn(process.execPath, [bin, 'serve', '--port', '0', '--data-dir', dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    const exit = new Promise<number | null>((resolve) => server.once('exit', resolve));
    let stdout = '';
    server.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    running.push({ stop: async () => void server.kill('SIGKILL') });
    // The admin token a first start shows comes on its own line after the listening one, maybe in a later chunk.
    const started = /listening on (http:\/\/\S+)[\s\S]*^ {4}(fs_\S+)$/m;
    await vi.waitFor(() => expect(stdout).toMatch(started), { timeout: 30_000, interval: 100 });
    const match = started.exec(stdout)!;
    const url = match[1]!;
    const token = match[2]!;
    const stop = () => {
      server.kill('SIGTERM');
      return exit;
    };
    return { url, token, dataDir, stop };
  }

  it('is started by failsafe serve when FAILSAFE_KAFKA_BROKERS is set, and records a published sample', async () => {
    const server = await serve(broker.brokers.join(','));
    const registered = await fetch(`${server.url}/api/v1/services`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ service: 'orders' }),
    });
    expect(registered.status).toBe(201);
    const sample = sampleMessage('orders');
    await publish('failsafe.telemetry.samples', [sample]);
    const recorded = 'failsafe_kafka_telemetry_messages_total{topic="failsafe.telemetry.samples",outcome="recorded"} 1';
    const metrics = async () => (await fetch(`${server.url}/metrics`)).text();
    await vi.waitFor(async () => expect(await metrics()).toContain(recorded), { timeout: 60_000, interval: 500 });
    expect(await metrics()).toContain(
      'failsafe_kafka_consumer_lag_messages{topic="failsafe.telemetry.samples",partition="0"} 0',
    );
    const ready = await fetch(`${server.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', telemetry: { state: 'consuming' } });
    expect(await server.stop()).toBe(0);
    const read = spawnSync(
      process.execPath,
      [bin, 'events', 'read', healthStream('orders'), '--json', '--data-dir', server.dataDir],
      {
        encoding: 'utf8',
      },
    );
    expect(
      read.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).id),
    ).toEqual([sample.id]);
  }, 120_000);

  it('lets failsafe serve start with no broker answering, and says so on /ready without failing it', async () => {
    const port = await freePort();
    const server = await serve(`127.0.0.1:${port}`);
    const ready = await fetch(`${server.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', telemetry: { state: 'connecting', lag: [] } });
    expect(await server.stop()).toBe(0);
  }, 60_000);
});
