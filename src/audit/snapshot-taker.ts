import { eventTime } from '../../projections/event-time.js';
import type { TypedRecordedEvent } from '../events/catalogue.js';
import type { Snapshot, SnapshotKey, SnapshotStore } from '../runtime/snapshot-store.js';
import type { History } from './history.js';

/** Where a fold of the history from its first event stands: at the start, or at a snapshot. */
export interface FoldStart {
  /** Position of the last event folded; -1n before any. */
  readonly position: bigint;
  readonly eventsFolded: number;
  readonly maxEventTime: number;
}

export const FROM_ZERO: FoldStart = { position: -1n, eventsFolded: 0, maxEventTime: Number.NEGATIVE_INFINITY };

/**
 * Saves a snapshot of a fold every `every` events (and at its end): call `folded` after each event
 * is applied. The fold must be the whole history from its first event, no event left out, for its
 * state to stand for "every event up to this position".
 */
export class SnapshotTaker {
  private position: bigint;
  private lastEventId = '';
  private eventsFolded: number;
  private maxEventTime: number;
  private blockFrom: bigint;
  private blockMinEventTime = Number.POSITIVE_INFINITY;
  private inBlock = 0;

  constructor(
    private readonly store: SnapshotStore,
    private readonly key: SnapshotKey,
    private readonly every: number,
    start: FoldStart,
  ) {
    this.position = start.position;
    this.blockFrom = start.position;
    this.eventsFolded = start.eventsFolded;
    this.maxEventTime = start.maxEventTime;
  }

  /** Counts `event`, folded into `state`; saves a snapshot when a block is full. */
  async folded(event: TypedRecordedEvent, state: () => unknown): Promise<void> {
    const time = eventTime(event);
    this.position = event.position;
    this.lastEventId = event.id;
    this.eventsFolded += 1;
    this.maxEventTime = Math.max(this.maxEventTime, time);
    this.blockMinEventTime = Math.min(this.blockMinEventTime, time);
    this.inBlock += 1;
    if (this.inBlock >= this.every) await this.save(state());
  }

  /** Saves what was folded since the last snapshot, if anything. */
  async finish(state: unknown): Promise<void> {
    if (this.inBlock > 0) await this.save(state);
  }

  private async save(state: unknown): Promise<void> {
    const snapshot: Snapshot = {
      position: this.position,
      lastEventId: this.lastEventId,
      eventsFolded: this.eventsFolded,
      maxEventTime: this.maxEventTime,
      blockFrom: this.blockFrom,
      blockMinEventTime: this.blockMinEventTime,
      state,
    };
    await this.store.save(this.key, snapshot);
    this.blockFrom = this.position;
    this.blockMinEventTime = Number.POSITIVE_INFINITY;
    this.inBlock = 0;
  }
}

/**
 * Whether the history still holds, at the snapshot's position, the event it was taken after: a
 * snapshot file left beside another store (or a store recreated) speaks of other events.
 */
export async function stillMatches(history: History, snapshot: Snapshot): Promise<boolean> {
  for await (const event of history.readAll(snapshot.position))
    return event.position === snapshot.position && event.id === snapshot.lastEventId;
  return false;
}

/** The snapshot's state to go on from, or undefined (and the key's snapshots discarded) when it no longer matches. */
export async function usableSnapshot(
  history: History,
  store: SnapshotStore,
  key: SnapshotKey,
  snapshot: Snapshot | undefined,
): Promise<Snapshot | undefined> {
  if (!snapshot) return undefined;
  if (await stillMatches(history, snapshot)) return snapshot;
  await store.discard(key);
  return undefined;
}
