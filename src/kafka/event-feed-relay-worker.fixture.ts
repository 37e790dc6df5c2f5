/**
 * A child process running the event feed relay, for the crash tests:
 *   event-feed-relay-worker.fixture.ts <store url> <checkpoints file> <brokers,...> <topic>
 * prints "position <n>" each time the acknowledged position moves (at most every 20 ms), runs until
 * killed, or until stdin ends: then it stops the relay cleanly and exits 0.
 */
import { createInterface } from 'node:readline';
import { openStore } from '../event-store/open-store.js';
import { SqliteCheckpointStore } from '../runtime/sqlite-checkpoint-store.js';
import { EventFeedRelay } from './event-feed-relay.js';
import { createKafka } from './kafka-client.js';

const [url, checkpointsPath, brokers, topic] = process.argv.slice(2);
if (!url || !checkpointsPath || !brokers || !topic) {
  process.stderr.write('usage: event-feed-relay-worker.fixture.ts <store url> <checkpoints> <brokers> <topic>\n');
  process.exit(2);
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const store = await openStore(url);
const checkpoints = new SqliteCheckpointStore(checkpointsPath);
const relay = new EventFeedRelay({
  store,
  kafka: createKafka({ brokers: brokers.split(','), clientId: 'feed-worker' }, log),
  topic,
  checkpoints,
  log,
});
await relay.start();
let reported = -1n;
const timer = setInterval(() => {
  const { position } = relay.status();
  if (position === reported) return;
  reported = position;
  process.stdout.write(`position ${position}\n`);
}, 20);
for await (const _ of createInterface({ input: process.stdin }));
clearInterval(timer);
await relay.stop();
process.stdout.write(`stopped at ${relay.status().position}\n`);
await checkpoints.close();
await store.close();
