import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from './event-store.js';
import { type PagedSource, SharedPages } from './shared-pages.js';

/**
 * A store read asynchronously, as PostgreSQL is, decoding afresh on every read, counting what it is
 * asked; the next `failing` reads reject.
 */
function source(total: number) {
  const history: RecordedEvent[] = Array.from({ length: total }, (_, i) => ({
    position: BigInt(i + 1),
    id: `event-${i + 1}`,
    stream: 'svc',
    revision: BigInt(i),
    type: 'Sampled',
    data: {},
    metadata: {},
    recordedAt: new Date(0),
  }));
  const asked = { heads: 0, reads: [] as number[], failing: 0 };
  const paged: PagedSource = {
    head: async () => {
      asked.heads += 1;
      return total;
    },
    read: async (from, limit) => {
      asked.reads.push(from);
      if (asked.failing > 0) {
        asked.failing -= 1;
        throw new Error('connection lost');
      }
      return history
        .filter((e) => e.position >= BigInt(from))
        .slice(0, limit)
        .map((e) => ({ ...e }));
    },
  };
  return { paged, asked };
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
});
