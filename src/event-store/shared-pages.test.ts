import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from './event-store.js';
import { type PagedSource, SharedPages } from './shared-pages.js';

const recorded = (position: number, id = `event-${position}`): RecordedEvent => ({
  position: BigInt(position),
  id,
  stream: 'svc',
  revision: BigInt(position - 1),
  type: 'Sampled',
  data: {},
  metadata: {},
  recordedAt: new Date(0),
});

/**
 * A store read asynchronously, as PostgreSQL is, decoding afresh on every read, counting what it is
 * asked; the next `failing` reads reject; while `held` is set, reads and heads wait for it. Its
 * `history` may be changed, as by a failover.
 */
function source(total: number) {
  const history: RecordedEvent[] = Array.from({ length: total }, (_, i) => recorded(i + 1));
  const asked = { heads: 0, reads: [] as number[], failing: 0, held: undefined as Promise<void> | undefined };
  const paged: PagedSource = {
    head: async () => {
      asked.heads += 1;
      const last = history.length;
      await asked.held;
      return last;
    },
    read: async (from, limit) => {
      asked.reads.push(from);
      if (asked.failing > 0) {
        asked.failing -= 1;
        throw new Error('connection lost');
      }
      const page = history
        .filter((e) => e.position >= BigInt(from))
        .slice(0, limit)
        .map((e) => ({ ...e }));
      await asked.held;
      return page;
    },
  };
  return { paged, asked, history };
}

/**
 * The history as a standby promoted without its last commits has it: positions up to `kept`, then
 * `added` new events at the positions handed out again.
 */
function promote(history: RecordedEvent[], kept: number, added: number) {
  history.splice(kept, history.length, ...Array.from({ length: added }, (_, i) => recorded(kept + i + 1, `new-${i}`)));
}

/** Everything after `after`, page by page, as a subscription reads it. */
async function drain(pages: SharedPages, after = 0n): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for (let page = await pages.after(after); page.length > 0; page = await pages.after(out.at(-1)!.position))
    out.push(...page);
  return out;
}

describe('shared pages of a store read asynchronously', () => {
  it('ask the head once for a catch-up, and read each complete range once for readers that ask together', async () => {
    const { paged, asked } = source(95);
    const pages = new SharedPages(paged, 10);
    const [a, b] = await Promise.all([drain(pages), drain(pages, 4n)]);
    expect(a.map((e) => Number(e.position))).toEqual(Array.from({ length: 95 }, (_, i) => i + 1));
    expect(b.map((e) => Number(e.position))).toEqual(Array.from({ length: 91 }, (_, i) => i + 5));
    expect(b.every((event, i) => event === a[i + 4])).toBe(false);
    expect(b.slice(0, 85).every((event, i) => event === a[i + 4])).toBe(true);
    // Ranges 0 to 80 complete, read once each; the head's (90 to 99) read afresh by each reader, and past it.
    expect(asked.reads.filter((from) => from < 90).sort((x, y) => x - y)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80]);
    // Not once a page (ten each): for each reader's first page, then in the head's range (its last page, and
    // the empty read after it).
    expect(asked.heads).toBeLessThanOrEqual(6);
  });

  it('read a range again after a read of it failed: the failure is not kept', async () => {
    const { paged, asked } = source(30);
    const pages = new SharedPages(paged, 10);
    asked.failing = 1;
    await expect(pages.after(0n)).rejects.toThrow('connection lost');
    expect((await drain(pages)).map((e) => Number(e.position))).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('after forget, read again what was kept or known complete: a promoted standby reuses positions', async () => {
    const { paged, history } = source(45);
    const pages = new SharedPages(paged, 10);
    await drain(pages);
    promote(history, 25, 5);
    pages.forget();
    const behind = await drain(pages, 13n);
    expect(behind.map((e) => e.id)).toEqual([
      ...Array.from({ length: 12 }, (_, i) => `event-${i + 14}`),
      ...Array.from({ length: 5 }, (_, i) => `new-${i}`),
    ]);
    // Appends on the promoted server, at positions the old one had handed out too.
    promote(history, 30, 7);
    expect((await drain(pages, 30n)).map((e) => e.id)).toEqual(Array.from({ length: 7 }, (_, i) => `new-${i}`));
  });

  describe('take nothing as known from an answer of the server left behind, begun before forget', () => {
    /** Holds the source's answers to what `begin` asks; a promotion to 30 positions and `forget` happen meanwhile. */
    async function failoverDuring(
      { asked, history }: ReturnType<typeof source>,
      pages: SharedPages,
      begin: () => Promise<unknown>,
    ) {
      let release = () => {};
      asked.held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const late = begin();
      promote(history, 30, 0);
      await Promise.resolve();
      pages.forget();
      asked.held = undefined;
      release();
      await late;
    }

    /** What a subscription from 13 gets then, and what it gets of appends on the promoted server. */
    async function expectPromotedHistory(pages: SharedPages, history: RecordedEvent[]) {
      expect((await drain(pages, 13n)).map((e) => Number(e.position))).toEqual(
        Array.from({ length: 17 }, (_, i) => i + 14),
      );
      promote(history, 30, 3);
      expect((await drain(pages, 30n)).map((e) => e.id)).toEqual(['new-0', 'new-1', 'new-2']);
    }

    it('a head', async () => {
      const store = source(45);
      const pages = new SharedPages(store.paged, 10);
      await failoverDuring(store, pages, () => pages.after(40n));
      await expectPromotedHistory(pages, store.history);
    });

    it('a read', async () => {
      const store = source(45);
      const pages = new SharedPages(store.paged, 10);
      await drain(pages);
      promote(store.history, 45, 3);
      await failoverDuring(store, pages, () => pages.after(45n));
      await expectPromotedHistory(pages, store.history);
    });
  });
});
