import { Kafka, logLevel } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KafkaBroker, startKafkaBroker } from '../testing/kafka-broker.js';
import { parseTelemetryMessage, type TelemetryMessage } from './telemetry-message.js';
import { TelemetryPublisher } from './telemetry-publisher.js';

const sample = (n: number) => ({
  service: 'orders',
  instance: 'orders-1',
  sampledAt: new Date(Date.UTC(2026, 11, 1, 10, 0, n)).toISOString(),
  healthy: true,
  healthLatencyMs: n,
});

/** Every message of a topic, read from its beginning until `count` are in (or 30 s have passed). */
async function readTopic(brokers: readonly string[], topic: string, count: number) {
  const kafka = new Kafka({ brokers: [...brokers], clientId: 'publisher-test', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `read-${topic}-${Math.random()}` });
  const read: { key: string; message: TelemetryMessage }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const parsed = parseTelemetryMessage(message.value, 65_536);
      if (!parsed.ok) throw new Error(parsed.reason);
      read.push({ key: message.key!.toString(), message: parsed.message });
    },
  });
  const deadline = performance.now() + 30_000;
  while (read.length < count && performance.now() < deadline) await sleep(100);
  // A moment more: anything beyond `count` would be a duplicate.
  await sleep(500);
  await consumer.disconnect();
  return read;
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

describe('the telemetry publisher (a real broker)', () => {
  let broker: KafkaBroker;
  beforeAll(async () => {
    broker = await startKafkaBroker();
  }, 120_000);
  afterAll(async () => {
    await broker?.stop();
  });

  it('publishes samples in message format v1, keyed by service, each with a fresh id, all acknowledged', async () => {
    const publisher = new TelemetryPublisher({ brokers: broker.brokers, topic: 'samples-v1' });
    const sent = [1, 2, 3, 4, 5].map((n) => publisher.publish(sample(n)));
    await until(() => publisher.stats().acknowledged === 5, 30_000);
    expect(await publisher.stop()).toEqual({ acknowledged: 5, dropped: 0, pending: 0 });
    const read = await readTopic(broker.brokers, 'samples-v1', 5);
    expect(read.map((r) => r.key)).toEqual(['orders', 'orders', 'orders', 'orders', 'orders']);
    expect(read.map((r) => r.message)).toEqual(sent);
    expect(new Set(sent.map((m) => m.id)).size).toBe(5);
    expect(sent[0]).toMatchObject({ schemaVersion: 1, kind: 'health_sample', sample: sample(1) });
  }, 60_000);

  it('never throws while the broker is down, keeps the newest samples up to its bound, sends them later', async () => {
    await broker.stop({ keep: true });
    const lines: string[] = [];
    const publisher = new TelemetryPublisher({
      brokers: broker.brokers,
      topic: 'samples-outage',
      maxBuffered: 3,
      retryDelayMs: 200,
      log: (line) => lines.push(line),
    });
    const sent = [1, 2, 3, 4, 5].map((n) => publisher.publish(sample(n)));
    await sleep(1_000);
    expect(publisher.stats()).toEqual({ acknowledged: 0, dropped: 2, pending: 3 });
    expect(lines.join('\n')).toMatch(/dropped the 1 oldest sample/);
    await broker.start();
    await until(() => publisher.stats().acknowledged === 3, 60_000);
    await publisher.stop();
    const read = await readTopic(broker.brokers, 'samples-outage', 3);
    expect(read.map((r) => r.message.id)).toEqual(sent.slice(2).map((m) => m.id));
  }, 120_000);

  it('drops what it could not send when stopped during an outage, and says how many', async () => {
    await broker.stop({ keep: true });
    try {
      const publisher = new TelemetryPublisher({ brokers: broker.brokers, topic: 'samples-stop', retryDelayMs: 200 });
      for (const n of [1, 2, 3]) publisher.publish(sample(n));
      await sleep(500);
      const stats = await publisher.stop(500);
      expect(stats.acknowledged).toBe(0);
      expect(stats.dropped + stats.pending).toBe(3);
    } finally {
      await broker.start();
    }
  }, 120_000);
});
