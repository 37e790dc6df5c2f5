/**
 * A Failsafe telemetry consumer in a child process, for the tests that kill it mid-batch: it opens
 * the SQLite store at argv[2], consumes with the Kafka configuration (JSON) in argv[3], and prints
 * "batch <recorded> <duplicates>" after each batch it wrote to the store. It runs until killed.
 */
import { kafkaConfigSchema } from '../config/kafka-config.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { TelemetryConsumer } from './telemetry-consumer.js';

const [path, config] = process.argv.slice(2);
if (!path || !config) {
  process.stderr.write('usage: telemetry-consumer-worker.fixture.ts <store file> <kafka config json>\n');
  process.exit(2);
}
const store = SqliteEventStore.open({ path });
const counts = { recorded: 0, duplicate: 0 };
const consumer = new TelemetryConsumer({
  kafka: kafkaConfigSchema.parse(JSON.parse(config)),
  store,
  maxBytesPerPartition: 64 * 1024,
  log: (line) => process.stderr.write(`${line}\n`),
  onMessages: (_, outcome, count) => {
    if (outcome === 'dead_lettered') return;
    counts[outcome] += count;
    // The second of the two calls for each batch written.
    if (outcome === 'duplicate') process.stdout.write(`batch ${counts.recorded} ${counts.duplicate}\n`);
  },
});
consumer.start();
