import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startToxiproxyServer, ToxiproxyControl, freePort, type RunningToxiproxy } from '../drills/toxiproxy.js';
import { type KafkaBroker, startKafkaBroker } from './kafka-broker.js';

const client = (brokers: readonly string[]) =>
  new Kafka({ brokers: [...brokers], clientId: 'broker-test', logLevel: logLevel.NOTHING, retry: { retries: 3 } });

/** The addresses of the brokers a client learns from its bootstrap address's metadata. */
async function advertised(bootstrap: readonly string[]): Promise<string[]> {
  const admin = client(bootstrap).admin();
  await admin.connect();
  try {
    const { brokers } = await admin.describeCluster();
    return brokers.map((b) => `${b.host}:${b.port}`);
  } finally {
    await admin.disconnect();
  }
}

describe('a throwaway Kafka broker', () => {
  let broker: KafkaBroker;
  let toxiproxy: RunningToxiproxy;
  let proxyPort: number;

  beforeAll(async () => {
    proxyPort = await freePort();
    broker = await startKafkaBroker({ proxied: { advertisedPort: proxyPort } });
    toxiproxy = await startToxiproxyServer();
    await new ToxiproxyControl(toxiproxy.url).proxy('kafka', `127.0.0.1:${proxyPort}`, broker.proxiedUpstream!);
  }, 120_000);

  afterAll(async () => {
    await toxiproxy?.stop();
    await broker?.stop();
  });

  it('advertises the proxy to clients that came through it, and itself to the others', async () => {
    expect(await advertised(broker.brokers)).toEqual(broker.brokers);
    expect(await advertised([`127.0.0.1:${proxyPort}`])).toEqual([`127.0.0.1:${proxyPort}`]);
  });

  it('keeps what it acknowledged across a SIGKILL and a restart on the same ports', async () => {
    const producer = client(broker.brokers).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic: 'kept', messages: [{ key: 'a', value: 'first' }] });
    await producer.disconnect();
    await broker.stop({ kill: true, keep: true });
    await broker.start();
    const admin = client(broker.brokers).admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets('kept');
    await admin.disconnect();
    expect(offsets).toEqual([expect.objectContaining({ partition: 0, high: '1' })]);
  }, 120_000);
});
