import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect } from './event-store.contract.js';
import { ArchiveCorrupt } from './errors.js';
import type { RecordedEvent } from './event-store.js';
import { SegmentArchive } from './segment-archive.js';

const END = 2n ** 63n;
const recorded = (position: number, stream = 'health-a'): RecordedEvent => ({
  id: `00000000-0000-7000-8000-${String(position).padStart(12, '0')}`,
  stream,
  revision: BigInt(position),
  position: BigInt(position),
  type: 'Sampled',
  data: { position },
  metadata: { actor: 'test' },
  recordedAt: new Date(Date.UTC(2026, 11, 1) + position),
});
const range = (from: number, to: number, stream?: string) =>
  Array.from({ length: to - from + 1 }, (_, i) => recorded(from + i, stream));
const positions = (events: readonly RecordedEvent[]) => events.map((e) => Number(e.position));

describe('segment archive', () => {
  let dir: string;
  let archive: SegmentArchive;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-archive-'));
    archive = new SegmentArchive(join(dir, 'events.db.archive'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the segments of several streams merged in position order, with their events as written', async () => {
    const a = [1, 4, 6].map((p) => recorded(p, 'health-a'));
    const b = [2, 3, 5, 7].map((p) => recorded(p, 'clock'));
    archive.write(a);
    archive.write(b);
    const all = await collect(archive.cursor(0n).upTo(END));
    expect(positions(all)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(all[1]).toEqual(b[0]);
    expect(positions(await collect(archive.cursor(4n).upTo(END)))).toEqual([4, 5, 6, 7]);
  });

  it('keeps one copy of an event archived again by a retried trim', async () => {
    archive.write(range(1, 3));
    archive.write(range(1, 3));
    archive.write(range(1, 6));
    expect(readdirSync(archive.folder).filter((name) => name.endsWith('.gz'))).toHaveLength(2);
    expect(positions(await collect(archive.cursor(0n).upTo(END)))).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...(await archive.readEvents([recorded(5).id.toUpperCase()])).values()]).toEqual([recorded(5)]);
  });

  it('finds on each call what was archived since the previous one', async () => {
    archive.write(range(1, 2));
    const cursor = archive.cursor(0n);
    expect(positions(await collect(cursor.upTo(10n)))).toEqual([1, 2]);
    archive.write(range(3, 4));
    archive.write(range(11, 12));
    expect(positions(await collect(cursor.upTo(10n)))).toEqual([3, 4]);
    expect(positions(await collect(cursor.upTo(END)))).toEqual([11, 12]);
  });

  it('refuses a truncated segment with a typed error naming the file', async () => {
    archive.write(range(1, 400));
    const [name] = readdirSync(archive.folder);
    const path = join(archive.folder, name!);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const read = collect(archive.cursor(0n).upTo(END));
    await expect(read).rejects.toBeInstanceOf(ArchiveCorrupt);
    await expect(read).rejects.toThrow(`archive segment ${path} is damaged`);
    await expect(archive.readEvents([recorded(1).id])).rejects.toMatchObject({ code: 'ARCHIVE_CORRUPT', path });
  });

  it('refuses a segment whose lines are not archived events, naming the file and the line', async () => {
    archive.write(range(1, 2));
    const [name] = readdirSync(archive.folder);
    const path = join(archive.folder, name!);
    writeFileSync(path, gzipSync(`${JSON.stringify({ id: 'x' })}\n`));
    const read = collect(archive.cursor(0n).upTo(END));
    await expect(read).rejects.toThrow(new RegExp(`${name}.*line 1 is not an archived event`));
    writeFileSync(path, gzipSync('{"id": \n'));
    await expect(collect(archive.cursor(0n).upTo(END))).rejects.toThrow(/line 1 is not JSON/);
  });
});
