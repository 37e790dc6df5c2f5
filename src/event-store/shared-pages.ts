import type { RecordedEvent } from './event-store.js';

/** Pages kept: subscriptions catching up together share them; one further behind reads its own. */
const KEPT = 8;

export interface PagedSource {
  /**
   * The highest position assigned so far, every position at or under it committed: nothing can be
   * added under it any more (SQLite: one writer at a time; PostgreSQL: positions are taken under a lock
   * held until commit, so the committed ones are a prefix of those handed out).
   */
  head(): number | Promise<number>;
  /** Events from position `from` on, in order, at most `limit` (decoded). */
  read(from: number, limit: number): RecordedEvent[] | Promise<RecordedEvent[]>;
}

/**
 * Subscriptions' pages, read and decoded once for all of them. Each read model follows the store
 * with a subscription of its own: at a start on a long history, eight of them read and decoded the
 * same events eight times. Pages here cover fixed ranges of positions (`size` wide), so subscriptions
 * that started from different checkpoints meet on the same pages after their first. A range is
 * kept only once the head has passed its end, as nothing can be added to it any more (an event
 * trimmed since is still handed out: as it would have been to a subscription read just before).
 * What reads return shows how far positions are complete too; the head is asked only when a range
 * is not known to be complete and the store may hold more than reads have shown: at first, and after
 * a read that filled its page (on a catch-up, once), never while following live appends.
 */
export class SharedPages {
  private readonly kept = new Map<number, Promise<readonly RecordedEvent[]>>();
  private completeUpTo = 0;
  private mayBeBehind = true;
  /** Counts `forget`s: what a read begun before one shows is not taken as known after it. */
  private generation = 0;

  constructor(
    private readonly source: PagedSource,
    private readonly size: number,
  ) {}

  /** The next events after `after`, in order; empty when there are none yet. */
  async after(after: bigint): Promise<RecordedEvent[]> {
    const from = Number(after) + 1;
    const start = from - (from % this.size);
    const end = start + this.size;
    if (this.completeUpTo < end - 1 && this.mayBeBehind) {
      const generation = this.generation;
      const head = await this.source.head();
      if (generation === this.generation) this.known(head);
    }
    if (this.completeUpTo < end - 1) return this.fresh(from);
    const rest = (await this.page(start, end)).filter((event) => event.position > after);
    // Every event left in the range was trimmed: the next ones may be many ranges on, found in one read.
    return rest.length > 0 ? rest : this.fresh(end);
  }

  /**
   * Drops every kept page and what is known to be complete: the store may now be another server, whose
   * history can lack the last positions read and hand them out again (a standby promoted without the
   * last commits). Subscriptions already past those positions do not see them again, as before sharing.
   */
  forget(): void {
    this.generation += 1;
    this.kept.clear();
    this.completeUpTo = 0;
    this.mayBeBehind = true;
  }

  /** Events from `from` read for one subscription; the last one's position is complete, and so is all below it. */
  private async fresh(from: number): Promise<RecordedEvent[]> {
    const generation = this.generation;
    const events = await this.source.read(from, this.size);
    if (generation !== this.generation) return events;
    this.mayBeBehind = events.length === this.size;
    const last = events.at(-1);
    if (last) this.known(Number(last.position));
    return events;
  }

  private known(complete: number) {
    this.completeUpTo = Math.max(this.completeUpTo, complete);
  }

  /** The range's events, read once for every subscription that asks while it is kept; a failed read is not kept. */
  private page(start: number, end: number): Promise<readonly RecordedEvent[]> {
    const known = this.kept.get(start);
    if (known) return known;
    const past = BigInt(end);
    const page = (async () => (await this.source.read(start, this.size)).filter((event) => event.position < past))();
    this.kept.set(start, page);
    page.catch(() => {
      if (this.kept.get(start) === page) this.kept.delete(start);
    });
    if (this.kept.size > KEPT) this.kept.delete(this.kept.keys().next().value!);
    return page;
  }
}
