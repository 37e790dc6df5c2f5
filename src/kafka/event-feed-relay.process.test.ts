import { spawn, spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../drills/toxiproxy.js';
import { TsxChild } from '../event-store/child-process.fixture.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { type KafkaBroker, startKafkaBroker } from '../testing/kafka-broker.js';
import { FEED_HEADERS } from './event-feed-message.js';
import { allEvents, auditFeed } from './event-feed.fixture.js';
import { createTopic, readTopic } from './kafka-topic.fixture.js';

const APPENDER = new URL('../event-store/store-append-worker.fixture.ts', import.meta.url);
const RELAY = new URL('./event-feed-relay-worker.fixture.ts', import.meta.url);
const bin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));

const positionOf = (line: string) => BigInt(line.slice('position '.length));

describe('the event feed relay as a process, against a real broker', () => {
  let broker: KafkaBroker;
  let dir: string;
  const children: TsxChild[] = [];

  beforeAll(async () => {
    broker = await startKafkaBroker();
  }, 120_000);
  afterAll(async () => {
    await broker?.stop();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-relay-'));
  });
  afterEach(async () => {
    for (const child of children.splice(0)) await child.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  const child = (file: URL, args: string[]) => {
    const started = new TsxChild(file, args, { stdin: true });
    children.push(started);
    return started;
  };

  it('SIGKILLed mid-stream, restarted: no gap, repeats only of the batch in flight, each stream in order', async () => {
    const url = `sqlite:${join(dir, 'failsafe.db')}`;
    const relayArgs = [url, join(dir, 'checkpoints.db'), broker.brokers.join(','), 'feed-killed'];
    await createTopic(broker.brokers, 'feed-killed', 3);
    // A history to catch up with, so that the kill lands while full batches are in flight.
    const store = await SqliteEventStore.open({ path: join(dir, 'failsafe.db') });
    try {
      for (let n = 0; n < 40; n += 1) {
        const events = Array.from({ length: 1_000 }, (_, part) => ({ id: uuidv7(), type: 'Old', data: { n, part } }));
        await store.append(`history-${n % 8}`, events, 'any');
      }
      const appender = child(APPENDER, [url]);
      await appender.waitForLine((line) => line === 'ready');
      appender.send('flood killed');
      await appender.waitForLine((line) => line.startsWith('ack '));

      const first = child(RELAY, relayArgs);
      await first.waitForLine((line) => line.startsWith('position ') && positionOf(line) > 5_000n);
      await sleep(Math.floor(Math.random() * 300));
      await first.kill();
      expect(first.signal, first.stderr).toBe('SIGKILL');

      // Appends go on while no relay runs, and while the next one catches up.
      const second = child(RELAY, relayArgs);
      await second.waitForLine((line) => line.startsWith('position '));
      await appender.kill();
      const head = await store.headPosition();
      await second.waitForLine((line) => line.startsWith('position ') && positionOf(line) === head);
      await second.end();
      expect(second.exitCode, second.stderr).toBe(0);

      const events = await allEvents(store);
      const audit = auditFeed(await readTopic(broker.brokers, 'feed-killed'), events);
      expect(audit).toMatchObject({ missing: [], wrong: [], disordered: [] });
      expect(audit.duplicates, 'at most the batch in flight is sent again').toBeLessThanOrEqual(1_000);
      expect(events.length).toBeGreaterThan(40_000);
    } finally {
      await store.close();
    }
  }, 180_000);

  type Ready = { status?: string; eventFeed?: { state: string; position: string; topic: string } };

  /** `failsafe serve` on a free port with the brokers given; `check` runs against its URL, then it gets SIGTERM. */
  async function withServe(brokers: string, check: (url: string) => Promise<void>): Promise<void> {
    const server = spawn(process.execPath, [bin, 'serve', '--port', '0', '--data-dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FAILSAFE_ADMIN_TOKEN: '', FAILSAFE_KAFKA_BROKERS: brokers },
    });
    const exit = new Promise<number | null>((resolve) => server.once('exit', resolve));
    let output = '';
    server.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    server.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line: ${output}`)), 30_000);
        server.stdout.on('data', () => {
          const match = /listening on (http:\/\/\S+)/.exec(output);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]!);
          }
        });
      });
      await check(url);
    } finally {
      server.kill('SIGTERM');
      expect(await exit, output).toBe(0);
    }
  }

  /** /ready's answer once `done` holds for it (within 30 s). */
  async function readyUntil(url: string, done: (ready: Ready) => boolean): Promise<Ready> {
    let ready: Ready = {};
    const deadline = performance.now() + 30_000;
    while (!done(ready)) {
      if (performance.now() > deadline) throw new Error(`not as expected: ${JSON.stringify(ready)}`);
      await sleep(200);
      ready = (await (await fetch(`${url}/ready`)).json()) as Ready;
    }
    return ready;
  }

  it('`failsafe serve` with FAILSAFE_KAFKA_BROKERS publishes; /ready and /metrics show the feed', async () => {
    await withServe(broker.brokers.join(','), async (url) => {
      const ready = await readyUntil(url, (r) => r.eventFeed?.state === 'following' && r.eventFeed.position !== '0');
      expect(ready).toMatchObject({ status: 'ready', eventFeed: { topic: 'failsafe.events' } });
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/^failsafe_kafka_feed_position [1-9]/m);
      expect(metrics).toMatch(/^failsafe_kafka_feed_lag_events \d/m);
      expect(metrics).toMatch(/^failsafe_kafka_feed_published_total [1-9]/m);
      expect(metrics).toMatch(/^failsafe_kafka_feed_state\{state="following"\} 1/m);
      const promtool = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
      expect(promtool.status, `${promtool.error ?? ''}${promtool.stdout}${promtool.stderr}`).toBe(0);

      const messages = await readTopic(broker.brokers, 'failsafe.events');
      expect(messages.length).toBeGreaterThan(0);
      // Serve records the clock as it starts: its first tick is the first event of the feed.
      expect(messages[0]!.headers[FEED_HEADERS.position]).toBe('1');
      expect(messages.map((m) => m.headers[FEED_HEADERS.type])).toContain('ClockTicked');
    });
  }, 120_000);

  it('`failsafe serve` with no broker answering serves, ready, and says the feed waits for the broker', async () => {
    await withServe(`127.0.0.1:${await freePort()}`, async (url) => {
      const ready = await readyUntil(url, (r) => r.eventFeed?.state === 'waiting_for_broker');
      expect(ready).toMatchObject({ status: 'ready', eventFeed: { position: '0' } });
      expect((await fetch(`${url}/health`)).status).toBe(200);
    });
  }, 120_000);
});
