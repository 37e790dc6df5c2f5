/**
 * Which fold a snapshot belongs to. A snapshot is only ever read back by the same key: a fold whose
 * code changed (another version) or that depends on another input (another policy: `variant`)
 * never starts from a state it did not compute.
 */
export interface SnapshotKey {
  /** The fold: a projection's name, or the name of a set of them folded together. */
  readonly name: string;
  /** The fold's code version (for a set, every member's version). */
  readonly version: string;
  /** What else the state depends on, e.g. a hash of the policy file; '' for nothing. */
  readonly variant: string;
}

/** Where a fold of the history from its first event stood after one event, without the state. */
export interface SnapshotInfo {
  /** Position of the last event folded. */
  readonly position: bigint;
  /** Its id: a snapshot of positions that now name other events (another store) is refused. */
  readonly lastEventId: string;
  readonly eventsFolded: number;
  /** The newest recorded time (eventTime) among the events folded: the snapshot speaks for any instant from it on. */
  readonly maxEventTime: number;
  /**
   * The events since the fold's previous snapshot in the same run, positions (blockFrom, position],
   * and the oldest recorded time among them: a replay as of an earlier instant skips the block unread.
   */
  readonly blockFrom: bigint;
  readonly blockMinEventTime: number;
}

export interface Snapshot extends SnapshotInfo {
  /** The fold's state after that event: plain JSON. */
  readonly state: unknown;
}

/** Read-model snapshots taken every N events, so that a replay folds only what follows the nearest one. */
export interface SnapshotStore {
  /** Saves (or replaces) the snapshot of `key` at `snapshot.position`. */
  save(key: SnapshotKey, snapshot: Snapshot): Promise<void>;
  /** The snapshot with the highest position at or before `position`. */
  atOrBeforePosition(key: SnapshotKey, position: bigint): Promise<Snapshot | undefined>;
  /** The snapshot with the highest position whose events were all recorded at or before `time` (ms). */
  atOrBeforeTime(key: SnapshotKey, time: number): Promise<Snapshot | undefined>;
  /** Every snapshot after `position`, without states, in position order. */
  infosAfter(key: SnapshotKey, position: bigint): Promise<SnapshotInfo[]>;
  /** Forgets every snapshot of `key` (they spoke of events the store no longer holds). */
  discard(key: SnapshotKey): Promise<void>;
  /** Forgets all but the `count` newest snapshots of `key`: a fold with large states keeps what it resumes from. */
  keepLatest(key: SnapshotKey, count: number): Promise<void>;
  close(): Promise<void>;
}

/** How often a fold saves a snapshot unless told otherwise: a replay then folds at most about this many events. */
export const DEFAULT_SNAPSHOT_EVERY = 20_000;
