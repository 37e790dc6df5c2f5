import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EventStore } from '../event-store/event-store.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { SqliteCheckpointStore } from '../runtime/sqlite-checkpoint-store.js';
import { type KafkaBroker, startKafkaBroker } from '../testing/kafka-broker.js';
import { FEED_HEADERS } from './event-feed-message.js';
import { EventFeedRelay } from './event-feed-relay.js';
import { allEvents, auditFeed } from './event-feed.fixture.js';
import { createKafka } from './kafka-client.js';
import { createTopic, readTopic } from './kafka-topic.fixture.js';

const STREAMS = ['deployment-orders', 'deployment-billing', 'health-orders', 'health-billing', 'flags', 'clock'];

/** `batches` appends of 1 to 4 events each, round-robin over the streams. */
async function appendEvents(store: EventStore, batches: number, from = 0): Promise<void> {
  for (let n = from; n < from + batches; n += 1) {
    const events = Array.from({ length: 1 + (n % 4) }, (_, part) => ({
      id: uuidv7(),
      type: 'Happened',
      data: { n, part },
      metadata: { schemaVersion: 2 },
    }));
    await store.append(STREAMS[n % STREAMS.length]!, events, 'any');
  }
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(50);
  }
}

describe('the event feed relay, against a real broker', () => {
  let broker: KafkaBroker;
  let dir: string;
  let store: SqliteEventStore;
  let checkpoints: SqliteCheckpointStore;
  const relays: EventFeedRelay[] = [];
  const log: string[] = [];

  const relay = (topic: string, options: { batchSize?: number } = {}) => {
    const started = new EventFeedRelay({
      store,
      kafka: createKafka({ brokers: [...broker.brokers], clientId: 'feed-test' }, (line) => log.push(line)),
      topic,
      checkpoints,
      log: (line) => log.push(line),
      stalledAfterMs: 500,
      backoff: { initialMs: 100, maxMs: 1_000 },
      ...options,
    });
    relays.push(started);
    return started;
  };
  const caughtUp = async (feed: EventFeedRelay) =>
    until(async () => feed.status().position === (await store.headPosition()), 'the relay caught up with $all');

  beforeAll(async () => {
    broker = await startKafkaBroker();
  }, 120_000);
  afterAll(async () => {
    await broker?.stop();
  });
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-relay-'));
    store = await SqliteEventStore.open({ path: join(dir, 'failsafe.db') });
    checkpoints = new SqliteCheckpointStore(join(dir, 'checkpoints.db'));
  });
  afterEach(async () => {
    for (const feed of relays.splice(0)) await feed.stop();
    await checkpoints.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes every event once, keyed by stream, each stream in order in one partition, with headers', async () => {
    await createTopic(broker.brokers, 'feed-all', 3);
    await appendEvents(store, 300);
    const feed = relay('feed-all', { batchSize: 97 });
    await feed.start();
    // Live appends, after it caught up with the history.
    await caughtUp(feed);
    await appendEvents(store, 60, 300);
    await caughtUp(feed);

    const events = await allEvents(store);
    const messages = await readTopic(broker.brokers, 'feed-all');
    expect(messages).toHaveLength(events.length);
    expect(auditFeed(messages, events)).toEqual({ missing: [], wrong: [], duplicates: 0, disordered: [] });
    expect(new Set(messages.map((m) => m.partition)).size, 'the streams spread over the partitions').toBeGreaterThan(1);
    const first = messages.find((m) => m.headers[FEED_HEADERS.eventId] === events[0]!.id)!;
    expect(first.headers).toEqual({
      'failsafe-event-id': events[0]!.id,
      'failsafe-event-type': 'Happened',
      'failsafe-stream': 'deployment-orders',
      'failsafe-revision': '0',
      'failsafe-position': events[0]!.position.toString(),
      'failsafe-schema-version': '2',
      'failsafe-feed-format': '1',
    });
    expect(JSON.parse(first.value)).toEqual({
      id: events[0]!.id,
      stream: 'deployment-orders',
      revision: '0',
      position: events[0]!.position.toString(),
      type: 'Happened',
      data: { n: 0, part: 0 },
      metadata: { schemaVersion: 2 },
      recordedAt: events[0]!.recordedAt.toISOString(),
    });
    expect(feed.status()).toMatchObject({ state: 'following', published: events.length });
    expect(await feed.report()).toMatchObject({ lagEvents: 0, headPosition: events.at(-1)!.position });
  }, 120_000);

  it('resumes from its checkpoint after a restart, republishing nothing the broker acknowledged', async () => {
    await appendEvents(store, 100);
    const before = relay('feed-resume');
    await before.start();
    await caughtUp(before);
    await before.stop();
    await appendEvents(store, 50, 100);

    const after = relay('feed-resume');
    await after.start();
    await caughtUp(after);
    const events = await allEvents(store);
    const messages = await readTopic(broker.brokers, 'feed-resume');
    expect(messages).toHaveLength(events.length);
    expect(auditFeed(messages, events)).toEqual({ missing: [], wrong: [], duplicates: 0, disordered: [] });
    expect(after.status().published, 'only what was appended while it was stopped').toBe(
      events.length - before.status().published,
    );
  }, 120_000);

  it('splits a batch that would exceed the broker message size limit (1 MiB), as large events come', async () => {
    const large = 'x'.repeat(300_000);
    for (let n = 0; n < 6; n += 1)
      await store.append('drill-reports', [{ id: uuidv7(), type: 'Large', data: { n, large } }], 'any');
    const feed = relay('feed-large');
    await feed.start();
    await caughtUp(feed);
    const events = await allEvents(store);
    const audit = auditFeed(await readTopic(broker.brokers, 'feed-large'), events);
    expect(audit).toEqual({ missing: [], wrong: [], duplicates: 0, disordered: [] });
  }, 120_000);

  it('loses nothing while the broker is stopped, killed and restarted mid-stream, and says it waits', async () => {
    await createTopic(broker.brokers, 'feed-outage', 3);
    const feed = relay('feed-outage', { batchSize: 50 });
    await feed.start();
    let appending = true;
    const appender = (async () => {
      for (let n = 0; appending; n += 1) {
        await appendEvents(store, 1, n);
        await sleep(5);
      }
    })();
    const published = () => feed.status().published;
    await until(() => published() > 200, 'published some before the outage');

    await broker.stop({ keep: true });
    await until(() => feed.status().state === 'waiting_for_broker', 'the relay reports the broker gone', 30_000);
    const stuckAt = feed.status().position;
    await sleep(1_000);
    expect(feed.status().position, 'nothing is acknowledged while the broker is down').toBe(stuckAt);
    await broker.start();
    await until(() => feed.status().position > stuckAt + 200n, 'publishing again once the broker is back');

    await broker.stop({ kill: true, keep: true });
    await until(() => feed.status().state === 'waiting_for_broker', 'the relay reports the broker killed', 30_000);
    await broker.start();
    const killedAt = feed.status().position;
    await until(() => feed.status().position > killedAt + 200n, 'publishing after the crash');
    appending = false;
    await appender;
    await caughtUp(feed);

    const events = await allEvents(store);
    const audit = auditFeed(await readTopic(broker.brokers, 'feed-outage'), events);
    expect(audit).toMatchObject({ missing: [], wrong: [], disordered: [] });
    expect(events.length).toBeGreaterThan(600);
  }, 180_000);
});
