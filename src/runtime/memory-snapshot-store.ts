import type { Snapshot, SnapshotInfo, SnapshotKey, SnapshotStore } from './snapshot-store.js';

const keyOf = ({ name, version, variant }: SnapshotKey) => JSON.stringify([name, version, variant]);
const infoOf = ({ state: _state, ...info }: Snapshot): SnapshotInfo => info;

/** Snapshots for tests and for a process that keeps none: lost when it ends. */
export class MemorySnapshotStore implements SnapshotStore {
  /** Per key and position; serialised like the durable store, so a state that would not survive JSON fails here too. */
  private readonly byKey = new Map<string, Map<bigint, { info: SnapshotInfo; state: string }>>();

  async save(key: SnapshotKey, snapshot: Snapshot): Promise<void> {
    const snapshots = this.byKey.get(keyOf(key)) ?? new Map();
    this.byKey.set(keyOf(key), snapshots);
    snapshots.set(snapshot.position, { info: infoOf(snapshot), state: JSON.stringify(snapshot.state) });
  }

  private sorted(key: SnapshotKey) {
    return [...(this.byKey.get(keyOf(key))?.values() ?? [])].sort((a, b) =>
      a.info.position < b.info.position ? -1 : 1,
    );
  }

  private latest(key: SnapshotKey, fits: (info: SnapshotInfo) => boolean): Snapshot | undefined {
    const found = this.sorted(key)
      .filter((s) => fits(s.info))
      .at(-1);
    return found && { ...found.info, state: JSON.parse(found.state) };
  }

  async atOrBeforePosition(key: SnapshotKey, position: bigint): Promise<Snapshot | undefined> {
    return this.latest(key, (info) => info.position <= position);
  }

  async atOrBeforeTime(key: SnapshotKey, time: number): Promise<Snapshot | undefined> {
    return this.latest(key, (info) => info.maxEventTime <= time);
  }

  async infosAfter(key: SnapshotKey, position: bigint): Promise<SnapshotInfo[]> {
    return this.sorted(key)
      .filter((s) => s.info.position > position)
      .map((s) => s.info);
  }

  async discard(key: SnapshotKey): Promise<void> {
    this.byKey.delete(keyOf(key));
  }

  async keepLatest(key: SnapshotKey, count: number): Promise<void> {
    const all = this.sorted(key);
    for (const old of all.slice(0, Math.max(0, all.length - count)))
      this.byKey.get(keyOf(key))?.delete(old.info.position);
  }

  async close(): Promise<void> {}
}
