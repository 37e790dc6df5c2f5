import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Snapshot, SnapshotKey, SnapshotStore } from './snapshot-store.js';

const key: SnapshotKey = { name: 'replay-at', version: 'service-state@1', variant: '' };
const snapshot = (position: number, maxEventTime: number, state: unknown = { at: position }): Snapshot => ({
  position: BigInt(position),
  lastEventId: `e-${position}`,
  eventsFolded: position,
  maxEventTime,
  blockFrom: BigInt(Math.max(0, position - 10)),
  blockMinEventTime: maxEventTime - 5,
  state,
});

/** What every SnapshotStore adapter must do; each adapter's test runs it with a fresh, empty store. */
export function snapshotStoreContract(name: string, open: () => SnapshotStore | Promise<SnapshotStore>): void {
  describe(`${name} (snapshot store contract)`, () => {
    let store: SnapshotStore;
    beforeEach(async () => {
      store = await open();
      for (const [position, time] of [
        [10, 1000],
        [20, 2000],
        [30, 2000],
        [40, 4000],
      ] as const)
        await store.save(key, snapshot(position, time));
    });
    afterEach(() => store.close());

    it('gives back the nearest snapshot at or before a position, state included', async () => {
      expect(await store.atOrBeforePosition(key, 25n)).toEqual(snapshot(20, 2000));
      expect(await store.atOrBeforePosition(key, 40n)).toEqual(snapshot(40, 4000));
      expect(await store.atOrBeforePosition(key, 9n)).toBeUndefined();
    });

    it('gives back, for an instant, the furthest snapshot whose events were all recorded by then', async () => {
      expect((await store.atOrBeforeTime(key, 2000))?.position).toBe(30n);
      expect((await store.atOrBeforeTime(key, 3999))?.position).toBe(30n);
      expect((await store.atOrBeforeTime(key, Number.POSITIVE_INFINITY))?.position).toBe(40n);
      expect(await store.atOrBeforeTime(key, 999)).toBeUndefined();
    });

    it('never reads a snapshot of another version or another policy', async () => {
      expect(await store.atOrBeforePosition({ ...key, version: 'service-state@2' }, 40n)).toBeUndefined();
      expect(await store.atOrBeforeTime({ ...key, variant: 'policy-b' }, 5000)).toBeUndefined();
      expect(await store.infosAfter({ ...key, name: 'other' }, 0n)).toEqual([]);
    });

    it('lists the snapshots after a position without their states, in order', async () => {
      const { state: _state, ...info } = snapshot(40, 4000);
      expect((await store.infosAfter(key, 10n)).map((i) => i.position)).toEqual([20n, 30n, 40n]);
      expect((await store.infosAfter(key, 30n))[0]).toEqual(info);
    });

    it('replaces a snapshot saved again at the same position', async () => {
      await store.save(key, snapshot(20, 2000, { replaced: true }));
      expect((await store.atOrBeforePosition(key, 20n))?.state).toEqual({ replaced: true });
    });

    it('forgets every snapshot of a key it discards, and only those', async () => {
      const other = { ...key, variant: 'policy-b' };
      await store.save(other, snapshot(5, 500));
      await store.discard(key);
      expect(await store.atOrBeforePosition(key, 100n)).toBeUndefined();
      expect((await store.atOrBeforePosition(other, 100n))?.position).toBe(5n);
    });

    it('keeps only the newest snapshots of a key when asked, and those of other keys', async () => {
      const other = { ...key, variant: 'policy-b' };
      await store.save(other, snapshot(10, 1000));
      await store.keepLatest(key, 2);
      expect(await store.infosAfter(key, 0n)).toMatchObject([{ position: 30n }, { position: 40n }]);
      expect(await store.atOrBeforePosition(other, 10n)).toEqual(snapshot(10, 1000));
      await store.keepLatest(key, 5);
      expect(await store.infosAfter(key, 0n)).toHaveLength(2);
    });

    it('keeps states as plain JSON: what would not survive JSON does not survive the store', async () => {
      await store.save(key, snapshot(50, 5000, { when: new Date(0), gone: undefined }));
      expect((await store.atOrBeforePosition(key, 50n))?.state).toEqual({ when: '1970-01-01T00:00:00.000Z' });
    });
  });
}
