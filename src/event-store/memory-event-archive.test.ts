import { describe, expect, it } from 'vitest';
import { collect } from './event-store.contract.js';
import type { RecordedEvent } from './event-store.js';
import { MemoryEventArchive } from './memory-event-archive.js';

const END = 2n ** 63n;
const recorded = (position: number, data: Record<string, unknown> = {}): RecordedEvent => ({
  id: `00000000-0000-7000-8000-${String(position).padStart(12, '0')}`,
  stream: `health-${position % 2}`,
  revision: BigInt(position),
  position: BigInt(position),
  type: 'Sampled',
  data,
  metadata: {},
  recordedAt: new Date(Date.UTC(2026, 11, 1) + position),
});
const positions = (events: readonly RecordedEvent[]) => events.map((e) => Number(e.position));

describe('in-memory event archive', () => {
  it('reads what several trims archived merged in position order, from a position on', async () => {
    const archive = new MemoryEventArchive();
    archive.write([1, 4, 6].map((p) => recorded(p)));
    archive.write([2, 3, 5].map((p) => recorded(p)));
    expect(positions(await collect(archive.cursor(0n).upTo(END)))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(positions(await collect(archive.cursor(4n).upTo(5n)))).toEqual([4, 5]);
  });

  it('keeps the first copy of an event a retried trim archives again', async () => {
    const archive = new MemoryEventArchive();
    archive.write([recorded(1, { copy: 'first' })]);
    archive.write([recorded(1, { copy: 'second' }), recorded(2)]);
    const all = await collect(archive.cursor(0n).upTo(END));
    expect(all.map((e) => e.data)).toEqual([{ copy: 'first' }, {}]);
    expect((await archive.readEvents([all[0]!.id.toUpperCase()])).get(all[0]!.id)?.data).toEqual({ copy: 'first' });
  });

  it('gives each cursor call only what comes after what it already gave, archived since included', async () => {
    const archive = new MemoryEventArchive();
    archive.write([recorded(1), recorded(2)]);
    const cursor = archive.cursor(0n);
    expect(positions(await collect(cursor.upTo(1n)))).toEqual([1]);
    archive.write([recorded(3)]);
    expect(positions(await collect(cursor.upTo(END)))).toEqual([2, 3]);
    expect(await collect(cursor.upTo(END))).toEqual([]);
  });
});
