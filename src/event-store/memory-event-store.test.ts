import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, describeEventStoreContract, events } from './event-store.contract.js';
import type { EventStore, ExpectedRevision, NewEvent } from './event-store.js';
import { MemoryEventStore } from './memory-event-store.js';
import { SqliteEventStore } from './sqlite-event-store.js';
import { fixedClock } from '../runtime/clock.js';

describeEventStoreContract(
  'in memory',
  async () => {
    const store = new MemoryEventStore();
    return { store, archive: store.archive, dispose: () => store.close() };
  },
  { singleProcess: 'an in-memory store lives in one process' },
);

const streams = ['svc-a', 'health-b'];
// Mostly appends that succeed, so that streams grow past their retention limits.
const expected = fc.oneof(
  { arbitrary: fc.constant<ExpectedRevision>('any'), weight: 5 },
  fc.constantFrom<ExpectedRevision>('no_stream', 'stream_exists'),
  { arbitrary: fc.bigInt({ min: 0n, max: 8n }), weight: 2 },
);
const stream = fc.constantFrom(...streams);

type Operation =
  | { op: 'append'; stream: string; count: number; expected: ExpectedRevision }
  | { op: 'retry'; stream: string; which: number; expected: ExpectedRevision }
  | { op: 'retain'; stream: string; maxCount?: number; maxAgeSeconds?: number }
  | { op: 'delete'; stream: string; expected: ExpectedRevision }
  | { op: 'wait'; seconds: number }
  | { op: 'read'; stream: string; backwards: boolean; fromRevision?: bigint; maxCount?: number }
  | { op: 'readAll'; backwards: boolean; maxCount?: number }
  | { op: 'readEvent'; which: number }
  | { op: 'metadata'; stream: string };

const weighted = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
const operation: fc.Arbitrary<Operation> = fc.oneof(
  weighted(10, fc.record({ op: fc.constant('append'), stream, count: fc.integer({ min: 1, max: 3 }), expected })),
  weighted(2, fc.record({ op: fc.constant('retry'), stream, which: fc.nat(), expected })),
  weighted(
    2,
    fc.record(
      {
        op: fc.constant('retain'),
        stream,
        maxCount: fc.integer({ min: 1, max: 8 }),
        maxAgeSeconds: fc.integer({ min: 1, max: 30 }),
      },
      { requiredKeys: ['op', 'stream'] },
    ),
  ),
  weighted(1, fc.record({ op: fc.constant('delete'), stream, expected })),
  weighted(2, fc.record({ op: fc.constant('wait'), seconds: fc.integer({ min: 1, max: 20 }) })),
  weighted(
    2,
    fc.record(
      {
        op: fc.constant('read'),
        stream,
        backwards: fc.boolean(),
        fromRevision: fc.bigInt({ min: 0n, max: 12n }),
        maxCount: fc.integer({ min: 1, max: 5 }),
      },
      { requiredKeys: ['op', 'stream', 'backwards'] },
    ),
  ),
  weighted(
    2,
    fc.record(
      { op: fc.constant('readAll'), backwards: fc.boolean(), maxCount: fc.integer({ min: 1, max: 5 }) },
      { requiredKeys: ['op', 'backwards'] },
    ),
  ),
  weighted(1, fc.record({ op: fc.constant('readEvent'), which: fc.nat() })),
  weighted(1, fc.record({ op: fc.constant('metadata'), stream })),
);

/** What an operation answered, or the error it threw, in a form two stores' answers compare by. */
async function outcome(work: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await work() };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

describe('in-memory event store', () => {
  // Tests that use it in place of a durable store are only right if it answers as that store does.
  it('answers any sequence of appends, retries, retention, deletes and reads as the SQLite store does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'failsafe-memory-'));
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(operation, { minLength: 20, maxLength: 50 }), async (operations) => {
          const clock = fixedClock('2026-12-01T00:00:00Z');
          const sqlite = SqliteEventStore.open({ path: join(dir, `run-${(run += 1)}.db`), clock });
          const memory = new MemoryEventStore({ clock });
          const batches: NewEvent[][] = [];
          const apply = async (store: EventStore, o: Operation, batch: NewEvent[]) => {
            switch (o.op) {
              case 'append':
              case 'retry':
                return store.append(o.stream, batch, o.expected);
              case 'retain':
                return store.setStreamMetadata(o.stream, o);
              case 'delete':
                return store.deleteStream(o.stream, o.expected);
              case 'wait':
                return undefined;
              case 'read':
                return collect(store.readStream(o.stream, { ...o, direction: o.backwards ? 'backwards' : 'forwards' }));
              case 'readAll':
                return collect(store.readAll({ ...o, direction: o.backwards ? 'backwards' : 'forwards' }));
              case 'readEvent':
                return store.readEvent(batches[o.which % batches.length]?.[0]?.id ?? events(1)[0]!.id);
              case 'metadata':
                return store.getStreamMetadata(o.stream);
            }
          };
          try {
            for (const o of operations) {
              if (o.op === 'wait') clock.set(new Date(clock.now().getTime() + o.seconds * 1000));
              const batch =
                o.op === 'append' ? events(o.count) : o.op === 'retry' ? batches[o.which % batches.length] : [];
              if (!batch) continue;
              if (o.op === 'append') batches.push(batch);
              const real = await outcome(() => apply(sqlite, o, batch));
              const fake = await outcome(() => apply(memory, o, batch));
              expect(
                fake,
                JSON.stringify(o, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)),
              ).toEqual(real);
            }
            expect(await collect(memory.readAll())).toEqual(await collect(sqlite.readAll()));
            expect(await collect(memory.archive.cursor(0n).upTo(2n ** 63n))).toEqual(
              await collect(sqlite.archive.cursor(0n).upTo(2n ** 63n)),
            );
          } finally {
            await sqlite.close();
            await memory.close();
          }
        }),
        { numRuns: 60 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
