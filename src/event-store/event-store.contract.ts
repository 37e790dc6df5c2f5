import { v7 as uuidv7 } from 'uuid';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TsxChild } from './child-process.fixture.js';
import { DuplicateEventId, InvalidEvent, StreamDeleted, WrongExpectedRevision } from './errors.js';
import type { ArchiveReader } from './event-archive.js';
import type { AppendResult, EventStore, NewEvent, RecordedEvent, Subscription } from './event-store.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** How a suite gets a fresh, empty store of the adapter under test, and disposes of it. */
export interface EventStoreFixture {
  /** The store under test, fresh and empty. */
  readonly store: EventStore;
  /** Where the store's retention puts what it trims. */
  readonly archive: ArchiveReader;
  /**
   * A store URL (`store-url.ts`) that `openStore` in another process opens as this very store: the
   * multi-process cases run workers on it. Omit it only when the contract's `singleProcess` says why.
   */
  readonly url?: string;
  /** Checks the store's own integrity after processes were killed writing to it (e.g. SQLite's integrity_check). */
  checkIntegrity?(): Promise<void>;
  /** Closes the store and removes all the fixture made (files, databases); other processes are gone by then. */
  dispose(): Promise<void>;
}

export interface EventStoreContractOptions {
  /**
   * Why no other process can open this adapter's store (e.g. it lives in memory): the cases that
   * need other processes are then reported skipped, with this reason in their title.
   */
  readonly singleProcess?: string;
}

export const newEvent = (
  type = 'Sampled',
  data: Record<string, unknown> = {},
  metadata?: Record<string, unknown>,
): NewEvent => ({
  id: uuidv7(),
  type,
  data,
  ...(metadata && { metadata }),
});

export const events = (count: number, type = 'Sampled'): NewEvent[] =>
  Array.from({ length: count }, (_, index) => newEvent(type, { index }));

export async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

/** Takes exactly `count` events from a subscription, failing if they do not come in time. */
export async function take(subscription: Subscription, count: number, timeoutMs = 10_000): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  if (count === 0) return out;
  const iterator = subscription[Symbol.asyncIterator]();
  const deadline = Date.now() + timeoutMs;
  while (out.length < count) {
    const remaining = deadline - Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`subscription gave ${out.length} of ${count} events in ${timeoutMs} ms`)),
        remaining,
      );
    });
    try {
      const next = await Promise.race([iterator.next(), timeout]);
      if (next.done) throw new Error(`subscription ended after ${out.length} of ${count} events`);
      out.push(next.value);
    } finally {
      clearTimeout(timer);
    }
  }
  return out;
}

const revisions = (recorded: RecordedEvent[]) => recorded.map((e) => e.revision);

/**
 * The behaviour every event store adapter must show, whatever is behind it. The cases in one
 * process get a fresh fixture each; the cases with other processes (worker processes that open
 * `fixture.url`, some SIGKILLed) share one fixture, disposed of once its workers are gone.
 */
export function describeEventStoreContract(
  adapter: string,
  createFixture: () => Promise<EventStoreFixture>,
  options: EventStoreContractOptions = {},
): void {
  describe(`event store contract: ${adapter}`, () => {
    let fixture: EventStoreFixture;
    let store: EventStore;
    beforeEach(async () => {
      fixture = await createFixture();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.dispose();
    });

    describe('expected revision', () => {
      it('creates a stream with no_stream and reports the revision of the last event', async () => {
        const result = await store.append('svc-a', events(3), 'no_stream');
        expect(result.nextExpectedRevision).toBe(2n);
        expect(result.position).toBe(await store.headPosition());
      });

      it('refuses no_stream on a stream that has events, naming expected and actual', async () => {
        await store.append('svc-a', events(2), 'no_stream');
        const error = await store.append('svc-a', events(1), 'no_stream').catch((e: unknown) => e);
        expect(error).toBeInstanceOf(WrongExpectedRevision);
        expect(error).toMatchObject({ stream: 'svc-a', expected: 'no_stream', actual: 1n });
      });

      it('refuses stream_exists on a missing stream', async () => {
        await expect(store.append('missing', events(1), 'stream_exists')).rejects.toMatchObject({
          code: 'WRONG_EXPECTED_REVISION',
          actual: 'no_stream',
        });
        await store.append('missing', events(1), 'no_stream');
        await expect(store.append('missing', events(1), 'stream_exists')).resolves.toMatchObject({
          nextExpectedRevision: 1n,
        });
      });

      it('appends at the exact revision and refuses a stale one without writing anything', async () => {
        const first = await store.append('svc-a', events(2), 'no_stream');
        await store.append('svc-a', events(1), first.nextExpectedRevision);
        const head = await store.headPosition();
        const error = await store.append('svc-a', events(4), first.nextExpectedRevision).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(WrongExpectedRevision);
        expect(error).toMatchObject({ expected: 1n, actual: 2n });
        expect(revisions(await collect(store.readStream('svc-a')))).toEqual([0n, 1n, 2n]);
        expect(await store.headPosition()).toBe(head);
      });

      it('appends with any whatever the stream holds', async () => {
        await store.append('svc-a', events(1), 'any');
        const result = await store.append('svc-a', events(1), 'any');
        expect(result.nextExpectedRevision).toBe(1n);
      });
    });

    describe('idempotency on event id', () => {
      it('returns the original result for a retried append and writes nothing', async () => {
        const batch = events(3);
        const original = await store.append('svc-a', batch, 'no_stream');
        const retried = await store.append('svc-a', batch, 'no_stream');
        expect(retried).toEqual(original);
        expect(await collect(store.readStream('svc-a'))).toHaveLength(3);
      });

      it('recognises a retry even after the stream moved on', async () => {
        const batch = events(2);
        const original = await store.append('svc-a', batch, 'no_stream');
        await store.append('svc-a', events(5), 'any');
        expect(await store.append('svc-a', batch, 'no_stream')).toEqual(original);
        expect(await collect(store.readStream('svc-a'))).toHaveLength(7);
      });

      it('refuses an id already stored in another stream, writing nothing', async () => {
        const [reused] = events(1);
        await store.append('svc-a', [reused!], 'any');
        const head = await store.headPosition();
        await expect(store.append('svc-b', [newEvent(), reused!], 'any')).rejects.toBeInstanceOf(DuplicateEventId);
        expect(await store.headPosition()).toBe(head);
        expect(await collect(store.readStream('svc-b'))).toEqual([]);
      });
    });

    describe('bad input', () => {
      it.each([
        ['a malformed id', [{ id: 'not-a-uuid', type: 'T', data: {} }], 'events[0].id'],
        ['a missing type', [{ id: uuidv7(), data: {} }], 'events[0].type'],
        ['data that is not an object', [newEvent(), { id: uuidv7(), type: 'T', data: [1, 2] }], 'events[1].data'],
        ['data that JSON cannot carry', [{ id: uuidv7(), type: 'T', data: { big: 1n } }], 'events[0].data'],
        [
          'the same id twice in one batch',
          (() => {
            const e = newEvent();
            return [e, e];
          })(),
          'events[1].id',
        ],
      ])('refuses %s, naming the field, and writes nothing', async (_, batch, field) => {
        const error = await store.append('svc-a', batch as NewEvent[], 'any').catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidEvent);
        expect((error as InvalidEvent).problems.map((p) => p.path)).toContain(field);
        expect((error as Error).message).toContain(field);
        expect(await store.headPosition()).toBe(0n);
      });

      it('refuses reserved or empty stream names and bad expected revisions', async () => {
        await expect(store.append('$all', events(1), 'any')).rejects.toThrow(/stream: must not start with "\$"/);
        await expect(store.append('', events(1), 'any')).rejects.toBeInstanceOf(InvalidEvent);
        await expect(store.append('svc', events(1), -1n as bigint)).rejects.toThrow(/expectedRevision/);
        await expect(store.append('svc', [], 'any')).rejects.toThrow(/events: must be a non-empty array/);
      });
    });

    describe('reading', () => {
      it('gives back what was written, with revision, position and time', async () => {
        const written = newEvent(
          'DeploymentRequested',
          { service: 'svc', nested: { list: [1, 'two', null] } },
          { actor: 'alice' },
        );
        const before = Date.now();
        const { position } = await store.append('svc-a', [written], 'no_stream');
        const [read] = await collect(store.readStream('svc-a'));
        expect(read).toMatchObject({
          id: written.id,
          stream: 'svc-a',
          revision: 0n,
          position,
          type: written.type,
          data: written.data,
          metadata: written.metadata,
        });
        expect(read!.recordedAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
      });

      it('finds one event by id', async () => {
        const written = events(3);
        await store.append('svc-a', written, 'no_stream');
        expect(await store.readEvent(written[1]!.id)).toMatchObject({
          id: written[1]!.id,
          stream: 'svc-a',
          revision: 1n,
        });
        expect(await store.readEvent(newEvent().id)).toBeUndefined();
      });

      it('reads a stream forwards and backwards from a revision, bounded by maxCount', async () => {
        await store.append('svc-a', events(10), 'no_stream');
        expect(revisions(await collect(store.readStream('svc-a', { fromRevision: 4n, maxCount: 3 })))).toEqual([
          4n,
          5n,
          6n,
        ]);
        expect(revisions(await collect(store.readStream('svc-a', { direction: 'backwards', maxCount: 3 })))).toEqual([
          9n,
          8n,
          7n,
        ]);
        expect(
          revisions(await collect(store.readStream('svc-a', { direction: 'backwards', fromRevision: 2n }))),
        ).toEqual([2n, 1n, 0n]);
        expect(await collect(store.readStream('never-written'))).toEqual([]);
      });

      it('reads $all in commit order with strictly increasing positions, forwards and backwards', async () => {
        const order: string[] = [];
        for (let i = 0; i < 30; i += 1) {
          const e = newEvent('Sampled', { i });
          order.push(e.id);
          await store.append(`svc-${i % 3}`, [e], 'any');
        }
        const all = await collect(store.readAll());
        expect(all.map((e) => e.id)).toEqual(order);
        for (const [i, e] of all.slice(1).entries()) expect(e.position).toBeGreaterThan(all[i]!.position);
        const fromMiddle = await collect(store.readAll({ fromPosition: all[10]!.position, maxCount: 5 }));
        expect(fromMiddle.map((e) => e.id)).toEqual(order.slice(10, 15));
        const backwards = await collect(store.readAll({ direction: 'backwards', maxCount: 4 }));
        expect(backwards.map((e) => e.id)).toEqual(order.slice(-4).reverse());
      });
    });

    describe('subscriptions', () => {
      it('catches up, then delivers live appends', async () => {
        await store.append('svc-a', events(5), 'no_stream');
        const subscription = store.subscribe();
        try {
          expect(await take(subscription, 5)).toHaveLength(5);
          const live = events(3);
          await store.append('svc-b', live, 'no_stream');
          expect((await take(subscription, 3)).map((e) => e.id)).toEqual(live.map((e) => e.id));
        } finally {
          await subscription.close();
        }
      });

      it('resumes from a stored checkpoint without loss or duplication', async () => {
        const written = [...events(6)];
        await store.append('svc-a', written, 'no_stream');
        const first = store.subscribe();
        const seen = await take(first, 4);
        const checkpoint = seen.at(-1)!.position;
        await first.close();
        const more = events(3);
        await store.append('svc-a', more, 'any');
        const resumed = store.subscribe({ after: checkpoint });
        try {
          const rest = await take(resumed, 5);
          expect([...seen, ...rest].map((e) => e.id)).toEqual([...written, ...more].map((e) => e.id));
        } finally {
          await resumed.close();
        }
      });

      it("from 'end' delivers only what is appended afterwards", async () => {
        await store.append('svc-a', events(4), 'no_stream');
        const subscription = store.subscribe({ after: 'end' });
        try {
          const live = events(2);
          await store.append('svc-a', live, 'any');
          expect((await take(subscription, 2)).map((e) => e.id)).toEqual(live.map((e) => e.id));
        } finally {
          await subscription.close();
        }
      });

      it('delivers every event exactly once, in order, while writers append during catch-up', async () => {
        await store.append('svc-a', events(300), 'no_stream');
        const subscription = store.subscribe();
        const writing = (async () => {
          for (let i = 0; i < 40; i += 1) await store.append(`svc-${i % 4}`, events(5), 'any');
        })();
        try {
          const received = await take(subscription, 500, 20_000);
          await writing;
          const all = await collect(store.readAll());
          expect(received.map((e) => e.id)).toEqual(all.map((e) => e.id));
        } finally {
          await subscription.close();
        }
      });

      it('ends the iteration when closed', async () => {
        const subscription = store.subscribe();
        const consumed = collect(subscription);
        await sleep(20);
        await subscription.close();
        await expect(consumed).resolves.toEqual([]);
      });
    });

    describe('retention', () => {
      it('keeps only the newest maxCount events of a stream, and revisions go on', async () => {
        await store.setStreamMetadata('health-svc', { maxCount: 3 });
        await store.append('health-svc', events(10), 'no_stream');
        expect(revisions(await collect(store.readStream('health-svc')))).toEqual([7n, 8n, 9n]);
        const next = await store.append('health-svc', events(1), 9n);
        expect(next.nextExpectedRevision).toBe(10n);
        expect(await store.getStreamMetadata('health-svc')).toEqual({ maxCount: 3 });
        expect(revisions(await collect(store.readStream('health-svc', { direction: 'backwards' })))).toEqual([
          10n,
          9n,
          8n,
        ]);
      });

      it('applies a maxCount set after the events were written', async () => {
        await store.append('health-svc', events(6), 'no_stream');
        await store.setStreamMetadata('health-svc', { maxCount: 2 });
        expect(revisions(await collect(store.readStream('health-svc')))).toEqual([4n, 5n]);
      });

      it('hides events older than maxAge', async () => {
        await store.setStreamMetadata('health-svc', { maxAgeSeconds: 1 });
        await store.append('health-svc', events(2), 'no_stream');
        await sleep(1_100);
        const fresh = events(1);
        await store.append('health-svc', fresh, 'any');
        expect((await collect(store.readStream('health-svc'))).map((e) => e.id)).toEqual([fresh[0]!.id]);
      });

      it('archives what it trims before deleting it: live and archived, every event is kept once', async () => {
        await store.setStreamMetadata('health-svc', { maxCount: 5 });
        const written = events(40);
        for (const event of written) await store.append('health-svc', [event], 'any');
        const archived = await collect(fixture.archive.cursor(0n).upTo(2n ** 63n));
        const live = await collect(store.readAll());
        expect(archived.length).toBeGreaterThan(0);
        const whole = [...archived, ...live].sort((a, b) => (a.position < b.position ? -1 : 1));
        expect(whole.map((e) => e.id)).toEqual(written.map((e) => e.id));
        expect(revisions(whole)).toEqual(written.map((_, index) => BigInt(index)));
        const first = (await fixture.archive.readEvents([written[0]!.id])).get(written[0]!.id);
        expect(first).toMatchObject({ stream: 'health-svc', revision: 0n, data: { index: 0 } });
      });

      it('archives events older than maxAge before deleting them', async () => {
        await store.setStreamMetadata('health-svc', { maxAgeSeconds: 1 });
        const old = events(3);
        await store.append('health-svc', old, 'no_stream');
        await sleep(1_300);
        await store.append('health-svc', events(1), 'any');
        expect((await collect(store.readAll())).map((e) => e.revision)).toEqual([3n]);
        const archived = await collect(fixture.archive.cursor(0n).upTo(2n ** 63n));
        expect(archived.map((e) => e.id)).toEqual(old.map((e) => e.id));
      });

      it('refuses retention values that are not positive integers', async () => {
        await expect(store.setStreamMetadata('svc', { maxCount: 0 })).rejects.toThrow(/metadata.maxCount/);
        await expect(store.setStreamMetadata('svc', { maxAgeSeconds: 1.5 })).rejects.toThrow(/metadata.maxAgeSeconds/);
      });
    });

    describe('deletion', () => {
      it('makes a deleted stream refuse reads and appends with StreamDeleted', async () => {
        await store.append('svc-a', events(2), 'no_stream');
        await store.deleteStream('svc-a', 1n);
        await expect(store.append('svc-a', events(1), 'any')).rejects.toBeInstanceOf(StreamDeleted);
        await expect(collect(store.readStream('svc-a'))).rejects.toBeInstanceOf(StreamDeleted);
      });

      it('checks the expected revision before deleting', async () => {
        await store.append('svc-a', events(2), 'no_stream');
        await expect(store.deleteStream('svc-a', 0n)).rejects.toBeInstanceOf(WrongExpectedRevision);
        expect(await collect(store.readStream('svc-a'))).toHaveLength(2);
      });
    });

    describe('concurrency', () => {
      it('lets exactly one of many racing no_stream appends win', async () => {
        const outcomes = await Promise.allSettled(
          Array.from({ length: 25 }, () => store.append('race', events(1), 'no_stream')),
        );
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        for (const o of outcomes.filter((o) => o.status === 'rejected')) {
          expect((o as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedRevision);
        }
      });

      it('keeps a gap-free stream under many concurrent optimistic appenders', async () => {
        const writers = 20;
        const appendsEach = 10;
        const appendWithRetry = async (writer: number, n: number) => {
          for (;;) {
            const last = await collect(store.readStream('shared', { direction: 'backwards', maxCount: 1 }));
            const expected = last[0]?.revision ?? 'no_stream';
            try {
              return await store.append('shared', [newEvent('Counted', { writer, n })], expected);
            } catch (error) {
              if (!(error instanceof WrongExpectedRevision)) throw error;
            }
          }
        };
        await Promise.all(
          Array.from({ length: writers }, async (_, writer) => {
            for (let n = 0; n < appendsEach; n += 1) await appendWithRetry(writer, n);
          }),
        );
        const stream = await collect(store.readStream('shared'));
        expect(revisions(stream)).toEqual(Array.from({ length: writers * appendsEach }, (_, i) => BigInt(i)));
        for (let writer = 0; writer < writers; writer += 1) {
          const mine = stream.filter((e) => e.data.writer === writer).map((e) => e.data.n);
          expect(mine).toEqual(Array.from({ length: appendsEach }, (_, n) => n));
        }
      });

      it('writes many appends in flight at once each once, gap-free, in $all order, seen live once', async () => {
        // One hot stream and many cold ones, batches of 1 to 3: all started before any is awaited.
        const appends = Array.from({ length: 90 }, (_, i) => ({
          stream: i % 3 === 0 ? 'hot' : `cold-${i % 15}`,
          batch: events(1 + (i % 3), 'Concurrent'),
        }));
        const total = appends.reduce((sum, a) => sum + a.batch.length, 0);
        const subscription = store.subscribe();
        try {
          // The subscriber is reading while the appends commit.
          const [received, results] = await Promise.all([
            take(subscription, total, 30_000),
            Promise.all(appends.map(({ stream, batch }) => store.append(stream, batch, 'any'))),
          ]);
          const all = await collect(store.readAll());
          expect(all.map((e) => e.id).sort()).toEqual(appends.flatMap((a) => a.batch.map((e) => e.id)).sort());
          for (const [i, e] of all.slice(1).entries()) expect(e.position).toBeGreaterThan(all[i]!.position);
          expect(received.map((e) => e.id)).toEqual(all.map((e) => e.id));
          expectWholeBatches(all, appends, results);
        } finally {
          await subscription.close();
        }
      });

      it('writes a batch once when retries of it race the original', async () => {
        const batch = events(3);
        const results = await Promise.all(Array.from({ length: 8 }, () => store.append('retried', batch, 'no_stream')));
        expect(results).toEqual(results.map(() => results[0]));
        expect(results[0]!.nextExpectedRevision).toBe(2n);
        expect((await collect(store.readAll())).map((e) => e.id)).toEqual(batch.map((e) => e.id));
      });
    });
  });

  const processTitle = `event store contract: ${adapter}, several processes on one store`;
  describe.skipIf(options.singleProcess !== undefined)(
    options.singleProcess === undefined ? processTitle : `${processTitle} (skipped: ${options.singleProcess})`,
    () => {
      let fixture: EventStoreFixture;
      const pool = new WorkerPool();
      beforeAll(async () => {
        fixture = await createFixture();
        if (fixture.url === undefined) {
          throw new Error(
            `the ${adapter} fixture gives no url for other processes to open its store: give one, ` +
              'or pass the contract the reason as `singleProcess`',
          );
        }
        pool.url = fixture.url;
        pool.warm(3);
      });
      afterAll(async () => {
        await pool.stop();
        await fixture?.dispose();
      });

      it('keeps one stream gap-free under optimistic appends from several processes, delivered live here', async () => {
        const workers = await pool.take(3);
        const each = 40;
        // Another process's appends reach this one's live subscriber too.
        const subscription = fixture.store.subscribe({ after: 'end' });
        let received: RecordedEvent[];
        try {
          [received] = await Promise.all([
            take(subscription, workers.length * each, 120_000),
            ...workers.map(async (worker, w) => {
              const from = worker.lines.length;
              worker.send(`contend contended ${w} ${each}`);
              await worker.waitForLine((line) => line === 'done', 120_000, from);
            }),
          ]);
        } finally {
          await subscription.close();
        }
        pool.give(workers);
        const stream = await collect(fixture.store.readStream('contended'));
        expect(received.map((e) => e.id)).toEqual(stream.map((e) => e.id));
        expect(revisions(stream)).toEqual(Array.from({ length: workers.length * each }, (_, i) => BigInt(i)));
        for (let w = 0; w < workers.length; w += 1) {
          expect(stream.filter((e) => e.data.worker === w).map((e) => e.data.n)).toEqual(
            Array.from({ length: each }, (_, n) => n),
          );
        }
        const inAll = (await collect(fixture.store.readAll())).filter((e) => e.stream === 'contended');
        expect(inAll.map((e) => e.id)).toEqual(stream.map((e) => e.id));
      }, 180_000);

      it('loses no acknowledged event and leaves no partial batch when appenders are SIGKILLed', async () => {
        // Rounds of three flooding processes, each killed at its own random moment; the next round's
        // processes start while this one floods, since starting one costs about a second.
        const rounds = 3;
        const acknowledged: string[] = [];
        for (let round = 0; round < rounds; round += 1) {
          const flooders = await pool.take(3);
          if (round < rounds - 1) pool.warm(3);
          await Promise.all(
            flooders.map(async (flooder) => {
              const from = flooder.lines.length;
              flooder.send('flood killed');
              await flooder.waitForLine((line) => line.startsWith('ack '), 60_000, from);
              await sleep(Math.floor(Math.random() * 250));
              await flooder.kill();
              expect(flooder.signal, flooder.stderr).toBe('SIGKILL');
              for (const line of flooder.lines.slice(from))
                if (line.startsWith('ack ')) acknowledged.push(...line.slice(4).split(','));
            }),
          );
        }
        await fixture.checkIntegrity?.();
        const killed = (await collect(fixture.store.readAll())).filter((e) => e.stream.startsWith('killed-'));
        const count = new Map<string, number>();
        for (const e of killed) count.set(e.id, (count.get(e.id) ?? 0) + 1);
        expect(acknowledged.filter((id) => count.get(id) !== 1)).toEqual([]);
        expect([...count].filter(([, n]) => n !== 1)).toEqual([]);
        // A batch is whole: its three parts at consecutive revisions of one stream.
        const batches = new Map<string, RecordedEvent[]>();
        for (const e of killed) batches.set(String(e.data.batch), [...(batches.get(String(e.data.batch)) ?? []), e]);
        const partial = [...batches.values()].filter(
          (b) => b.map((e) => e.data.part).join() !== '0,1,2' || b[2]!.revision - b[0]!.revision !== 2n,
        );
        expect(partial.map((b) => b[0]!.id)).toEqual([]);
        for (let i = 0; i < 5; i += 1) {
          const stream = revisions(await collect(fixture.store.readStream(`killed-${i}`)));
          expect(stream).toEqual(stream.map((_, r) => BigInt(r)));
        }
        // The store still takes appends from the survivors of the crash.
        await expect(fixture.store.append('killed-0', events(1), 'any')).resolves.toMatchObject({
          nextExpectedRevision: BigInt(killed.filter((e) => e.stream === 'killed-0').length),
        });
      }, 180_000);
    },
  );
}

/** Checks that each append's events sit at consecutive revisions of its stream, ending where its result says. */
function expectWholeBatches(
  all: readonly RecordedEvent[],
  appends: readonly { stream: string; batch: readonly NewEvent[] }[],
  results: readonly AppendResult[],
): void {
  const byId = new Map(all.map((e) => [e.id, e]));
  const streams = new Map<string, bigint[]>();
  for (const e of all) streams.set(e.stream, [...(streams.get(e.stream) ?? []), e.revision]);
  for (const stream of streams.values()) expect(stream).toEqual(stream.map((_, r) => BigInt(r)));
  appends.forEach(({ stream, batch }, i) => {
    const stored = batch.map((e) => byId.get(e.id)!);
    expect(stored.map((e) => e.stream)).toEqual(batch.map(() => stream));
    expect(revisions(stored)).toEqual(batch.map((_, k) => stored[0]!.revision + BigInt(k)));
    expect({ nextExpectedRevision: stored.at(-1)!.revision, position: stored.at(-1)!.position }).toEqual(results[i]);
  });
}

const WORKER = new URL('./store-append-worker.fixture.ts', import.meta.url);

/** Worker processes on one store, started ahead of need and reused while alive. */
class WorkerPool {
  url = '';
  private readonly idle: TsxChild[] = [];
  private readonly all: TsxChild[] = [];

  /** Starts workers in the background until `count` are idle or starting. */
  warm(count: number): void {
    while (this.idle.length < count) this.idle.push(this.start());
  }

  /** `count` workers that have opened the store. */
  async take(count: number): Promise<TsxChild[]> {
    const taken = this.idle.splice(0, count);
    while (taken.length < count) taken.push(this.start());
    await Promise.all(taken.map((worker) => worker.waitForLine((line) => line === 'ready')));
    return taken;
  }

  give(workers: readonly TsxChild[]): void {
    this.idle.push(...workers.filter((worker) => worker.running));
  }

  /** Lets idle workers close the store and exit; kills any still busy (a failed test's flooder). */
  async stop(): Promise<void> {
    await Promise.all(
      this.all.map(async (worker) => {
        const stuck = setTimeout(() => void worker.kill(), 10_000);
        await worker.end();
        clearTimeout(stuck);
      }),
    );
  }

  private start(): TsxChild {
    const worker = new TsxChild(WORKER, [this.url], { stdin: true });
    this.all.push(worker);
    return worker;
  }
}
