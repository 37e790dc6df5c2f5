/**
 * Inbound telemetry benchmark: health samples from a real Kafka broker recorded by Failsafe's
 * telemetry consumer into the embedded SQLite store, beside a bare kafkajs consume loop over the same
 * topic in the same run (the ratio is the figure).
 * Run: npm run bench:kafka-telemetry -- [--samples N] [--services N] [--reps N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { v7 as uuidv7 } from 'uuid';
import { registerServices } from '../src/application/register-services.js';
import { kafkaConfigSchema } from '../src/config/kafka-config.js';
import { SqliteEventStore } from '../src/event-store/sqlite-event-store.js';
import { TelemetryConsumer } from '../src/kafka/telemetry-consumer.js';
import { startKafkaBroker } from '../src/testing/kafka-broker.js';
import { fmt, loadAverage, median, printTable, progress, writeResults } from './bench-support.js';

const HELP = `Usage: npm run bench:kafka-telemetry -- [options]

Publishes --samples health samples (schema version 1, about 450 bytes each, spread over --services
services) to a throwaway Kafka broker, then, --reps times each, interleaved:
  - Failsafe's telemetry consumer records them into a fresh SQLite store (parse, validate, one
    append per service per batch, offsets committed after the append);
  - a bare kafkajs consumer group reads them (eachBatch, offsets committed per batch, no parsing).
Each run is a new consumer group reading the topic from the beginning. The figure is the sustained
rate: messages after the first batch over the time from the first batch's commit to the last.
Prints medians and writes bench/results/kafka-telemetry-<timestamp>.json.

Options:
  --samples <n>   messages in the topic (default 200000)
  --services <n>  services the samples belong to (default 10)
  --reps <n>      runs of each side; medians are reported (default 3)
  --help          show this help
`;

const { values: args } = parseArgs({
  options: {
    samples: { type: 'string', default: '200000' },
    services: { type: 'string', default: '10' },
    reps: { type: 'string', default: '3' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const positive = (name: 'samples' | 'services' | 'reps'): number => {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value <= 0) {
    process.stderr.write(`--${name} must be a positive whole number, got "${args[name]}"\n\n${HELP}`);
    process.exit(2);
  }
  return value;
};
const samples = positive('samples');
const serviceCount = positive('services');
const reps = positive('reps');
const services = Array.from({ length: serviceCount }, (_, i) => `svc-${i}`);
const TOPIC = 'bench.samples';
/** The same fetch size on both sides. */
const MAX_BYTES_PER_PARTITION = 2 * 1024 * 1024;

const base = Date.UTC(2026, 10, 24);
const message = (n: number) => {
  const service = services[n % serviceCount]!;
  return JSON.stringify({
    schemaVersion: 1,
    kind: 'health_sample',
    id: uuidv7(),
    sample: {
      service,
      instance: `${service}-1`,
      release: 'v1.4.2',
      sampledAt: new Date(base + n * 1000).toISOString(),
      healthy: n % 97 !== 0,
      healthLatencyMs: 5 + (n % 13),
      mcp: { protocolVersion: '2025-11-25', toolCount: 6, initializeLatencyMs: 20 + (n % 7) },
      requests: { total: 1000 + (n % 50), errors: n % 11 },
      errorRate: (n % 11) / 1000,
      latencyMs: { p50: 40, p95: 180 + (n % 40), p99: 450 },
      memory: { usedRatio: 0.4 + (n % 10) / 100 },
    },
  });
};

/** Tracks batch completions: the sustained rate excludes joining the group and the first fetch. */
class Progress {
  private first: { at: number; count: number } | undefined;
  private last = 0;
  count = 0;
  private finished!: () => void;
  readonly done = new Promise<void>((resolve) => (this.finished = resolve));

  batch(count: number): void {
    this.count += count;
    const now = performance.now();
    this.first ??= { at: now, count: this.count };
    this.last = now;
    if (this.count >= samples) this.finished();
  }

  get rate(): number {
    const first = this.first!;
    return (this.count - first.count) / ((this.last - first.at) / 1000);
  }
}

const startedAt = new Date();
const loadAtStart = loadAverage();
console.log(`load average ${loadAtStart} at the start; ${samples} samples over ${serviceCount} services, ${reps} reps`);
const dir = mkdtempSync(join(tmpdir(), 'failsafe-inbound-bench-'));
progress('starting a Kafka broker');
const broker = await startKafkaBroker();
const kafka = new Kafka({ brokers: [...broker.brokers], clientId: 'bench', logLevel: logLevel.NOTHING });

async function bare(run: number): Promise<number> {
  const consumer = kafka.consumer({
    groupId: `bare-${run}`,
    maxBytesPerPartition: MAX_BYTES_PER_PARTITION,
    maxWaitTimeInMs: 200,
  });
  const tracked = new Progress();
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset }) => {
      const last = batch.lastOffset();
      resolveOffset(last);
      await consumer.commitOffsets([
        { topic: batch.topic, partition: batch.partition, offset: String(BigInt(last) + 1n) },
      ]);
      tracked.batch(batch.messages.length);
    },
  });
  await tracked.done;
  await consumer.disconnect();
  return tracked.rate;
}

async function failsafe(run: number): Promise<number> {
  const store = SqliteEventStore.open({ path: join(dir, `store-${run}.db`) });
  await registerServices(store, services, { actor: 'bench', now: new Date(), source: 'fleet' });
  const config = kafkaConfigSchema.parse({
    brokers: broker.brokers,
    telemetry: { samplesTopic: TOPIC, noticesTopic: 'bench.notices', groupId: `failsafe-${run}` },
  });
  const tracked = new Progress();
  let refused = 0;
  const consumer = new TelemetryConsumer({
    kafka: config,
    store,
    maxBytesPerPartition: MAX_BYTES_PER_PARTITION,
    onMessages: (_, outcome, count) => {
      if (outcome === 'dead_lettered') {
        refused += count;
        // The last call for a batch: it is committed.
        tracked.batch(0);
      } else tracked.count += count;
    },
  });
  consumer.start();
  await tracked.done;
  await consumer.stop();
  await store.close();
  if (refused > 0) throw new Error(`${refused} samples were refused: the benchmark's messages are wrong`);
  return tracked.rate;
}

try {
  progress(`publishing ${samples} samples`);
  const producer = kafka.producer();
  await producer.connect();
  for (let n = 0; n < samples; n += 1_000) {
    const messages = Array.from({ length: Math.min(1_000, samples - n) }, (_, i) => ({
      key: services[(n + i) % serviceCount]!,
      value: message(n + i),
    }));
    await producer.send({ topic: TOPIC, acks: -1, messages });
  }
  await producer.disconnect();
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let run = 0; run < reps; run += 1) {
    // Alternating which side goes first: both see the same disk and page cache on average.
    const order = run % 2 === 0 ? [failsafe, bare] : [bare, failsafe];
    for (const side of order) {
      const rate = await side(run);
      (side === failsafe ? ours : theirs).push(rate);
      progress(`run ${run + 1}: ${side === failsafe ? 'failsafe' : 'bare kafkajs'} ${fmt(rate)} samples/s`);
    }
  }
  const failsafeRate = median(ours);
  const bareRate = median(theirs);
  const ratio = failsafeRate / bareRate;
  printTable(
    [
      {
        measure: 'inbound samples/s (sustained, SQLite)',
        ours: fmt(failsafeRate),
        bare: fmt(bareRate),
        ratio: `${fmt(ratio * 100)} %`,
        aim: '>= 20,000 and >= 70 %',
      },
    ],
    'bare kafkajs',
  );
  const loadAtEnd = loadAverage();
  console.log(`load average ${loadAtEnd} at the end`);
  writeResults(
    'kafka-telemetry',
    startedAt,
    { start: loadAtStart, end: loadAtEnd },
    {
      options: { samples, services: serviceCount, reps, maxBytesPerPartition: MAX_BYTES_PER_PARTITION },
      inbound: { failsafe: ours, bare: theirs, medians: { failsafe: failsafeRate, bare: bareRate }, ratio },
    },
  );
} finally {
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
}
