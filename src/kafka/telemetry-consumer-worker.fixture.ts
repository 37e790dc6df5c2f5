/**
 * A Failsafe telemetry consumer in a child process, for the tests that kill it mid-batch: it opens
 * the SQLite store at argv[2], consumes with the Kafka configuration (JSON) in argv[3], and prints
 * "batch <recorded> <duplicates>" after each batch it committed. It runs until killed.
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
    // The last of the three calls for a batch: the batch is committed.
    if (outcome === 'dead_lettered') process.stdout.write(`batch ${counts.recorded} ${counts.duplicate}\n`);
    else counts[outcome] += count;
  },
});
consumer.start();
