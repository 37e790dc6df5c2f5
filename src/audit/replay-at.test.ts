import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryEventStore } from '../event-store/memory-event-store.js';
import { encodeEvent, eventTypes, type DomainEvent, type EventType } from '../events/catalogue.js';
import { eventExamples } from '../events/event-examples.fixture.js';
import { MemorySnapshotStore } from '../runtime/memory-snapshot-store.js';
import type { SnapshotStore } from '../runtime/snapshot-store.js';
import type { History } from './history.js';
import { REPLAY_AT_SNAPSHOTS, replayAt } from './replay-at.js';
import { storeHistory } from './store-history.js';

const t0 = Date.UTC(2026, 11, 1);

/** An event of any type, for one of two services, recorded at `seconds` (its sample or tick time too). */
function eventAt(type: EventType, service: string, seconds: number): DomainEvent {
  const data: Record<string, unknown> = { ...eventExamples[type] };
  if ('service' in data) data.service = service;
  const iso = new Date(t0 + seconds * 1000).toISOString();
  if (type === 'HealthSampleRecorded') data.sampledAt = iso;
  if (type === 'ClockTicked') data.at = iso;
  return { type, data } as DomainEvent;
}

/** Records each event at its time: times mostly move forward, some go back (a late backlog). */
async function historyOf(events: readonly { type: EventType; service: string; seconds: number }[]): Promise<History> {
  const store = new MemoryEventStore();
  for (const e of events)
    await store.append(
      `s-${e.service}`,
      [
        encodeEvent(eventAt(e.type, e.service, e.seconds), {
          actor: 'test',
          occurredAt: new Date(t0 + e.seconds * 1000),
        }),
      ],
      'any',
    );
  return storeHistory(store);
}

const histories = fc.array(
  fc.record({
    type: fc.constantFrom(...eventTypes),
    service: fc.constantFrom('payments', 'orders'),
    seconds: fc.integer({ min: 0, max: 100 }),
  }),
  { minLength: 1, maxLength: 60 },
);

describe('replaying from snapshots', () => {
  it('gives at any instant what a replay from zero gives, whatever snapshots earlier replays left', async () => {
    await fc.assert(
      fc.asyncProperty(
        histories,
        fc.array(fc.integer({ min: -5, max: 105 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 7 }),
        async (events, instants, every) => {
          const history = await historyOf(events);
          const snapshots = new MemorySnapshotStore();
          for (const seconds of instants) {
            const at = new Date(t0 + seconds * 1000);
            const fromZero = await replayAt(history, at);
            expect(await replayAt(history, at, { snapshots, snapshotEvery: every })).toEqual(fromZero);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('folds only the tail after the nearest snapshot, leaving unread blocks recorded after the instant', async () => {
    const events = Array.from({ length: 100 }, (_, n) => ({ type: 'ClockTicked' as const, service: 'x', seconds: n }));
    const history = await historyOf(events);
    const snapshots = new MemorySnapshotStore();
    await replayAt(history, new Date(t0 + 1000 * 1000), { snapshots, snapshotEvery: 10 });
    let read = 0;
    const counting: History = {
      readEvents: (ids) => history.readEvents(ids),
      hasMoreThan: (count) => history.hasMoreThan(count),
      readTypes: (from, types) => history.readTypes(from, types),
      async *readAll(from) {
        for await (const event of history.readAll(from)) {
          read += 1;
          yield event;
        }
      },
      async *readDecoded(from) {
        for await (const event of history.readDecoded(from)) {
          read += 1;
          yield event;
        }
      },
    };
    const state = await replayAt(counting, new Date(t0 + 45_000), { snapshots, snapshotEvery: 10 });
    expect(state.eventsApplied).toBe(46);
    // The snapshot's own event (checked to still be there), then positions 41 to 50 and the first after the block.
    expect(read).toBeLessThanOrEqual(13);
  });

  it('discards snapshots that speak of other events (a store recreated beside an old snapshot file)', async () => {
    const snapshots: SnapshotStore = new MemorySnapshotStore();
    const ticks = (n: number, type: EventType) =>
      Array.from({ length: n }, (_, s) => ({ type, service: 'x', seconds: s }));
    await replayAt(await historyOf(ticks(20, 'ClockTicked')), new Date(t0 + 100_000), { snapshots, snapshotEvery: 5 });
    const other = await historyOf(ticks(20, 'ServiceRegistered'));
    expect(await replayAt(other, new Date(t0 + 100_000), { snapshots })).toEqual(
      await replayAt(other, new Date(t0 + 100_000)),
    );
    let last = '';
    for await (const event of other.readAll()) last = event.id;
    // The old history's snapshots are gone; the one left was taken from the new history.
    expect((await snapshots.infosAfter(REPLAY_AT_SNAPSHOTS, -1n)).map((s) => s.lastEventId)).toEqual([last]);
  });
});
