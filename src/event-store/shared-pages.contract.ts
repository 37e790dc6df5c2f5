import { describe, expect, it } from 'vitest';
import { collect, events, take } from './event-store.contract.js';
import type { EventStore } from './event-store.js';

/** A new, empty store that reads pages of ten events and polls often; `dispose` closes and removes it. */
export interface PagedStoreFixture {
  readonly store: EventStore;
  dispose(): Promise<void>;
}

/** For the stores whose subscriptions share their pages (`SharedPages`). */
export function describeSharedPagesContract(name: string, open: () => Promise<PagedStoreFixture>) {
  describe(`${name}: subscriptions catching up together`, () => {
    it('hand out each event in order, decoded once for all of them, whatever position each started after', async () => {
      const { store, dispose } = await open();
      try {
        await store.append('svc', events(45), 'any');
        const [fromZero, fromCheckpoint] = [store.subscribe(), store.subscribe({ after: 13n })];
        const [a, b] = [await take(fromZero, 45), await take(fromCheckpoint, 32)];
        expect(a.map((e) => e.position)).toEqual(Array.from({ length: 45 }, (_, i) => BigInt(i + 1)));
        expect(b.map((e) => e.position)).toEqual(Array.from({ length: 32 }, (_, i) => BigInt(i + 14)));
        // Up to the last range of ten positions (still the head's, so read afresh each time), both were
        // handed the same decoded events.
        expect(b.slice(0, 26).every((event, i) => event === a[i + 13])).toBe(true);
        expect(b[26]).not.toBe(a[39]);
        await Promise.all([fromZero.close(), fromCheckpoint.close()]);
      } finally {
        await dispose();
      }
    });

    it('go past ranges of positions whose events were all trimmed, and on to live appends', async () => {
      const { store, dispose } = await open();
      try {
        await store.append('old', events(25), 'any');
        await store.append('svc', events(5), 'any');
        await store.setStreamMetadata('old', { maxCount: 1 });
        await store.append('old', events(1), 'any');
        const kept = (await collect(store.readAll())).map((e) => e.position);
        expect(kept[0]).toBeGreaterThan(20n);
        const subscription = store.subscribe();
        expect((await take(subscription, kept.length)).map((e) => e.position)).toEqual(kept);
        // Appends that complete a range the subscription read while it was the head's (not kept as complete).
        await store.append('svc', events(12), 'any');
        const live = await take(subscription, 12);
        expect(live.map((e) => e.position)).toEqual(Array.from({ length: 12 }, (_, i) => kept.at(-1)! + BigInt(i + 1)));
        await subscription.close();
      } finally {
        await dispose();
      }
    });
  });
}
