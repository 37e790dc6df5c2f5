import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ArchiveReader } from '../event-store/event-archive.js';
import { collect, events } from '../event-store/event-store.contract.js';
import type { EventStore, NewEvent } from '../event-store/event-store.js';
import type { PostgresEventStore } from '../event-store/postgres-event-store.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { UndecodableEvent } from '../events/errors.js';
import { randomUUID } from 'node:crypto';
import { eventTime } from '../../projections/event-time.js';
import { encodeEvent, type DomainEvent } from '../events/catalogue.js';
import { eventExamples } from '../events/event-examples.fixture.js';
import { freshPostgresStore } from '../testing/fresh-postgres-store.js';
import { postgresForTests, type PostgresForTests } from '../testing/test-servers.js';
import { archivedHistory } from './archived-history.js';

const appendInBatches = async (store: EventStore, stream: string, all: readonly NewEvent[]) => {
  for (let i = 0; i < all.length; i += 100) await store.append(stream, all.slice(i, i + 100), 'any');
};

describe('the history of a store and its archive', () => {
  let dir: string;
  let store: SqliteEventStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-history-'));
    store = SqliteEventStore.open({ path: join(dir, 'events.db') });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('misses no event that retention trims while it is being read', async () => {
    const kept = events(1000);
    const trimmed = events(1000);
    const last = events(10);
    await appendInBatches(store, 'service-a', kept);
    await appendInBatches(store, 'health-a', trimmed);
    await appendInBatches(store, 'service-a', last);
    const ids: string[] = [];
    for await (const event of archivedHistory(store, store.archive).readAll()) {
      // The first page is read; the trim moves most of the second page to the archive.
      if (ids.length === 0) await store.setStreamMetadata('health-a', { maxCount: 1 });
      ids.push(event.id);
    }
    expect(await store.readEvent(trimmed[0]!.id)).toBeUndefined();
    expect(ids).toEqual([...kept, ...trimmed, ...last].map((e) => e.id));
  });

  it('holds no more than a page of the archive at a time, however much of the history it holds', async () => {
    const trimmed = events(3000);
    const last = events(10);
    await appendInBatches(store, 'health-a', trimmed);
    await store.setStreamMetadata('health-a', { maxCount: 1 });
    await appendInBatches(store, 'service-a', last);
    let pulled = 0;
    const counting: ArchiveReader = {
      readEvents: (ids) => store.archive.readEvents(ids),
      cursor(from) {
        const cursor = store.archive.cursor(from);
        return {
          async *upTo(bound) {
            for await (const event of cursor.upTo(bound)) {
              pulled += 1;
              yield event;
            }
          },
        };
      },
    };
    const ids: string[] = [];
    let pulledAtFirst = 0;
    for await (const event of archivedHistory(store, counting).readAll()) {
      if (ids.length === 0) pulledAtFirst = pulled;
      ids.push(event.id);
    }
    expect(ids).toEqual([...trimmed, ...last].map((e) => e.id));
    expect(pulled).toBe(2999);
    expect(pulledAtFirst).toBeLessThanOrEqual(1000);
  });

  it('finds events by id in the store or the archive, keyed as asked', async () => {
    const samples = events(30);
    await store.setStreamMetadata('health-a', { maxCount: 10 });
    for (const sample of samples) await store.append('health-a', [sample], 'any');
    const asked = [samples[0]!.id.toUpperCase(), samples[29]!.id, 'never-recorded'];
    const found = await archivedHistory(store, store.archive).readEvents(asked);
    expect([...found.keys()].sort()).toEqual(asked.slice(0, 2).sort());
    expect(found.get(asked[0]!)).toMatchObject({ id: samples[0]!.id, revision: 0n });
  });

  it("decodes the store's events as appended and validates the archive's, whose files can be edited", async () => {
    const started = () =>
      encodeEvent(
        { type: 'DeploymentStarted', data: { deploymentId: 'd-1', service: 'payments', release: 'v2' } },
        { actor: 'test', occurredAt: new Date('2026-12-01T00:00:00Z') },
      );
    // What only a hand-edited file (or a bypassed encodeEvent) holds: a release that is no name.
    const first = started();
    const edited = { ...first, data: { ...first.data, release: '../v2' } };
    await store.append('service-payments', [edited], 'any');
    const decoded = async () => (await collect(archivedHistory(store, store.archive).readDecoded())).map((e) => e.data);
    expect(await decoded()).toEqual([edited.data]);
    await store.append('service-payments', [started()], 'any');
    await store.setStreamMetadata('service-payments', { maxCount: 1 });
    expect(await store.readEvent(edited.id)).toBeUndefined();
    await expect(decoded()).rejects.toThrow(UndecodableEvent);
    await expect(decoded()).rejects.toThrow(/data\.release/);
  });
});

/** A store that reads undecoded (of some types if asked) and counts itself, with the archive its retention writes. */
type CountingStore = (SqliteEventStore | PostgresEventStore) & EventStore;

/** What a store that reads undecoded and counts (SQLite, PostgreSQL) must give as the history would without. */
function describeTypesAndCounts(name: string, open: () => Promise<{ store: CountingStore; dispose(): Promise<void> }>) {
  describe(`the history of a ${name} store and its archive, read undecoded and counted by the store`, () => {
    let store: CountingStore;
    let dispose: () => Promise<void>;
    beforeEach(async () => {
      ({ store, dispose } = await open());
    });
    afterEach(() => dispose());

    it('reads events of some types only, from the store and the archive, as readDecoded would give them', async () => {
      const at = (n: number) => new Date(Date.UTC(2026, 11, 1) + n * 1000);
      const every = Object.entries(eventExamples).map(([type, data], n) =>
        encodeEvent({ type, data } as DomainEvent, { actor: 'test', occurredAt: at(n) }),
      );
      // Enough rounds for more than one page (a thousand) of the types asked for.
      const rounds = Array.from({ length: 90 }, () => every.map((e) => ({ ...e, id: randomUUID() }))).flat();
      await appendInBatches(store, 'service-payments', rounds);
      await store.setStreamMetadata('service-payments', { maxCount: rounds.length / 2 });
      await appendInBatches(store, 'service-orders', every);
      const history = archivedHistory(store, store.archive);
      const types = Object.keys(eventExamples).filter((_, i) => i % 2 === 0);
      const from = BigInt(Math.floor(rounds.length / 3));
      const expected = (await collect(history.readDecoded(from))).filter((e) => types.includes(e.type));
      expect(expected.length).toBeGreaterThan(1000);
      expect(await store.readEvent(rounds[rounds.length / 3]!.id)).toBeUndefined();
      // The store picks them: none of its events is read whole, as the fallback (readDecoded) would.
      const readAll = vi.spyOn(store, 'readAll');
      expect(await collect(history.readTypes(from, types))).toEqual(expected);
      expect(await collect(history.readTypes(0n, ['NoSuchType']))).toEqual([]);
      expect(readAll).not.toHaveBeenCalled();
    });

    it('tells whether it holds more than a count of events, counting those retention archived', async () => {
      const samples = events(30);
      await store.setStreamMetadata('health-a', { maxCount: 10 });
      for (const sample of samples) await store.append('health-a', [sample], 'any');
      const history = archivedHistory(store, store.archive);
      expect(await store.countEvents(0n, 100)).toBe(10);
      expect(await Promise.all([5, 9, 10, 29, 30].map((n) => history.hasMoreThan(n)))).toEqual([
        true,
        true,
        true,
        true,
        false,
      ]);
    });

    it('gives a skipped event its time as decoded, from its text or, at an older schema, from its decode', async () => {
      const at = (n: number) => new Date(Date.UTC(2026, 11, 1) + n * 1000);
      const every = Object.entries(eventExamples).map(([type, data], n) =>
        encodeEvent({ type, data } as DomainEvent, { actor: 'test', occurredAt: at(n) }),
      );
      // A sample of schema 1 (`timestamp`, not `sampledAt`): its time is known once it is upcast. Both
      // samples are among the newest, read undecoded.
      const sample = encodeEvent(
        { type: 'HealthSampleRecorded', data: eventExamples.HealthSampleRecorded },
        {
          actor: 'test',
          occurredAt: at(99),
        },
      );
      const v1 = {
        ...sample,
        id: randomUUID(),
        data: {
          service: 'payments',
          instance: 'payments-1',
          timestamp: '2026-11-30T10:00:00.000Z',
          status: 'healthy',
          responseTimeMs: 12,
        },
        metadata: { ...sample.metadata, schemaVersion: 1 },
      };
      await appendInBatches(store, 'service-payments', [...every, v1, sample]);
      await store.setStreamMetadata('service-payments', { maxCount: 20 });
      await store.append(
        'service-payments',
        every.slice(0, 1).map((e) => ({ ...e, id: randomUUID() })),
        'any',
      );
      // Most in the archive (decoded to be read), the newest in the store (read undecoded).
      expect(await store.readEvent(every[0]!.id)).toBeUndefined();
      const history = archivedHistory(store, store.archive);
      const decoded = await collect(history.readDecoded());
      const times = decoded.map(eventTime);
      // The store's events are read undecoded: none through readAll, as the fallback (readDecoded) would.
      const readAll = vi.spyOn(store, 'readAll');
      const skipped = await collect(history.readSkipping(0n, () => true));
      expect(skipped.map((e) => ('skipped' in e ? e.time : Number.NaN))).toEqual(times);
      expect(new Set(times).size).toBeGreaterThan(every.length / 2);
      expect(await collect(history.readSkipping(0n, () => false))).toEqual(decoded);
      expect(readAll).not.toHaveBeenCalled();
    });
  });
}

describeTypesAndCounts('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'failsafe-history-'));
  const store = SqliteEventStore.open({ path: join(dir, 'events.db') });
  const dispose = async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { store, dispose };
});

let postgres: PostgresForTests | undefined;
afterAll(() => postgres?.stop());
describeTypesAndCounts('PostgreSQL', async () =>
  freshPostgresStore((postgres ??= await postgresForTests()), 'history'),
);
