/**
 * Kafka event feed benchmark: the relay publishing the embedded SQLite store's `$all` to a topic,
 * beside a bare kafkajs idempotent produce loop sending the same messages in the same run.
 * Run: npm run bench:kafka-feed -- [--events N] [--batch-size N] [--partitions N] [--reps N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Message, Partitioners } from 'kafkajs';
import { SqliteEventStore } from '../src/event-store/sqlite-event-store.js';
import { feedMessage } from '../src/kafka/event-feed-message.js';
import { EventFeedRelay } from '../src/kafka/event-feed-relay.js';
import { createKafka } from '../src/kafka/kafka-client.js';
import { SqliteCheckpointStore } from '../src/runtime/sqlite-checkpoint-store.js';
import { startKafkaBroker } from '../src/testing/kafka-broker.js';
import {
  fmt,
  loadAverage,
  median,
  positiveOptions,
  printTable,
  progress,
  timed,
  writeResults,
} from './bench-support.js';
import { healthSampleEvent } from './health-sample-events.js';

const HELP = `Usage: npm run bench:kafka-feed -- [options]

Starts a throwaway Kafka broker (the jars of scripts/provision.sh) and a SQLite store of
--events HealthSampleRecorded events over 500 streams, then, --reps times, alternating which
goes first: the event feed relay publishing the whole store to a fresh topic (from an empty
checkpoint until the broker has acknowledged the last event), and a bare kafkajs idempotent
producer (acks -1, one request in flight) sending the same messages (key, value, headers,
built before the clock starts) in batches of the same size to another fresh topic.
Prints medians and the ratio; writes bench/results/kafka-feed-<timestamp>.json.

Options:
  --events <n>      events in the store (default 200000)
  --batch-size <n>  events per produce request, both sides (default 1000)
  --partitions <n>  partitions of each topic (default 3)
  --reps <n>        rounds; medians are reported (default 3)
  --help            show this help
`;

const {
  events: eventCount,
  'batch-size': batchSize,
  partitions,
  reps,
} = positiveOptions(HELP, { events: 200_000, 'batch-size': 1000, partitions: 3, reps: 3 });
const STREAMS = 500;

const startedAt = new Date();
const loadAtStart = loadAverage();
console.log(`load average at the start: ${loadAtStart}`);
const dir = mkdtempSync(join(tmpdir(), 'failsafe-relay-bench-'));
progress('starting a Kafka broker');
const broker = await startKafkaBroker();
const kafka = new Kafka({ brokers: [...broker.brokers], clientId: 'bench', logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const store = await SqliteEventStore.open({ path: join(dir, 'failsafe.db') });

try {
  progress(`writing ${fmt(eventCount)} events over ${STREAMS} streams`);
  // Appends of 100 round-robin over the streams, so that each produce request spans partitions.
  for (let written = 0; written < eventCount; written += 100) {
    const size = Math.min(100, eventCount - written);
    const stream = (written / 100) % STREAMS;
    const events = Array.from({ length: size }, (_, i) => healthSampleEvent(stream, written + i));
    await store.append(`health-svc-${stream}`, events, 'any');
  }
  const messages: Message[] = [];
  for await (const event of store.readAll()) messages.push(feedMessage(event));
  const keys = new Set(messages.map((m) => m.key)).size;
  const bytes = messages.reduce((sum, m) => sum + (m.value as string).length, 0) / messages.length;

  const topic = async (name: string) => {
    await admin.createTopics({ topics: [{ topic: name, numPartitions: partitions }], waitForLeaders: true });
    return name;
  };

  const bare = async (round: number): Promise<number> => {
    const name = await topic(`bare-${round}`);
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const seconds = await timed(async () => {
      for (let at = 0; at < messages.length; at += batchSize)
        await producer.send({ topic: name, acks: -1, messages: messages.slice(at, at + batchSize) });
    });
    await producer.disconnect();
    return messages.length / seconds;
  };

  const relay = async (round: number): Promise<number> => {
    const name = await topic(`feed-${round}`);
    const checkpoints = new SqliteCheckpointStore(join(dir, `checkpoints-${round}.db`));
    const head = await store.headPosition();
    const feed = new EventFeedRelay({
      store,
      kafka: createKafka({ brokers: [...broker.brokers], clientId: 'bench-feed' }),
      topic: name,
      checkpoints,
      log: () => {},
      batchSize,
    });
    const seconds = await timed(async () => {
      await feed.start();
      while (feed.status().position < head) await sleep(5);
    });
    await feed.stop();
    await checkpoints.close();
    return eventCount / seconds;
  };

  const relayRates: number[] = [];
  const bareRates: number[] = [];
  for (let round = 0; round < reps; round += 1) {
    progress(`round ${round + 1} of ${reps}`);
    const order = round % 2 === 0 ? ['relay', 'bare'] : ['bare', 'relay'];
    for (const side of order) {
      if (side === 'relay') relayRates.push(await relay(round));
      else bareRates.push(await bare(round));
      progress(`  ${side}: ${fmt(side === 'relay' ? relayRates.at(-1)! : bareRates.at(-1)!)} events/s`);
    }
  }
  const ours = median(relayRates);
  const theirs = median(bareRates);
  const ratio = ours / theirs;
  const aim = `>= 20,000/s and >= 70 %: ${ours >= 20_000 && ratio >= 0.7 ? 'met' : 'not met'}`;
  console.log(
    `\n${fmt(eventCount)} events (${fmt(bytes)} bytes of JSON each, ${keys} streams), batches of ${batchSize}, ` +
      `${partitions} partitions, medians of ${reps} rounds:\n`,
  );
  const percent = `${fmt(100 * ratio)} %`;
  printTable(
    [{ measure: 'store → topic (events/s)', ours: fmt(ours), bare: fmt(theirs), ratio: percent, aim }],
    'bare kafkajs producer',
  );
  const loadAtEnd = loadAverage();
  console.log(`load average at the end: ${loadAtEnd}`);
  writeResults(
    'kafka-feed',
    startedAt,
    { start: loadAtStart, end: loadAtEnd },
    {
      options: { events: eventCount, batchSize, partitions, reps, streams: STREAMS, valueBytes: Math.round(bytes) },
      relay: { eventsPerSecond: relayRates, median: ours },
      bare: { eventsPerSecond: bareRates, median: theirs },
      ratio,
    },
  );
} finally {
  await admin.disconnect();
  await store.close();
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
}
