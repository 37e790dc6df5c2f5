import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StreamDeleted } from '../event-store/errors.js';
import { collect, events } from '../event-store/event-store.contract.js';
import type { EventStore } from '../event-store/event-store.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { copyStore, StoreCopyInterrupted, StoreCopyMismatch, StoreCopyRefused } from './copy-store.js';
import { SAMPLE_RETENTION, wholeHistory, writeSampleHistory } from './copy-store.fixture.js';

describe('copying a store', () => {
  let sample: string;
  let dir: string;
  let source: SqliteEventStore;
  let target: SqliteEventStore;
  beforeAll(async () => {
    sample = mkdtempSync(join(tmpdir(), 'failsafe-urls-sample-'));
    await writeSampleHistory(join(sample, 'source.db'));
  });
  afterAll(() => rmSync(sample, { recursive: true, force: true }));
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-urls-copy-'));
    cpSync(sample, dir, { recursive: true });
    source = SqliteEventStore.open({ path: join(dir, 'source.db') });
    target = SqliteEventStore.open({ path: join(dir, 'target.db') });
  });
  afterEach(async () => {
    await source.close();
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies every event in order with its id, data, metadata and time, archived ones included', async () => {
    const expected = await wholeHistory(source);
    expect(expected.length).toBeGreaterThan(2500);
    expect((await collect(source.archive.cursor(0n).upTo(2n ** 63n))).length).toBeGreaterThan(500);
    const report = await copyStore(source, target);
    expect(report).toMatchObject({ events: expected.length, copied: expected.length, streams: 13 });
    expect(report).toMatchObject({ retention: 4, deleted: 1, head: await source.headPosition() });
    expect(report.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(await wholeHistory(target)).toEqual(expected);
  });

  it('carries retention and deletions over', async () => {
    await copyStore(source, target);
    for (const [stream, retention] of Object.entries(SAMPLE_RETENTION))
      expect(await target.getStreamMetadata(stream)).toEqual(retention);
    expect(await target.getStreamMetadata('service-s0')).toEqual({});
    await expect(collect(target.readStream('deleted-x'))).rejects.toBeInstanceOf(StreamDeleted);
    // Retention trimmed the target as it did the source: the live stream holds the same last events.
    const live = async (store: EventStore) => (await collect(store.readStream('health-s0'))).map((e) => e.id);
    expect(await live(target)).toEqual(await live(source));
  });

  it('resumes an interrupted copy after what it wrote: no duplicates, no gaps', async () => {
    const stopping = new AbortController();
    const first = copyStore(source, target, {
      batchSize: 7,
      signal: stopping.signal,
      onProgress: (p) => p.events >= 1000 && stopping.abort(),
    });
    await expect(first).rejects.toBeInstanceOf(StoreCopyInterrupted);
    const partial = (await wholeHistory(target)).length;
    expect(partial).toBeGreaterThanOrEqual(1000);
    const report = await copyStore(source, target);
    expect(report.copied).toBe(report.events - partial);
    expect(await wholeHistory(target)).toEqual(await wholeHistory(source));
    expect(await copyStore(source, target)).toMatchObject({ copied: 0, events: report.events });
  });

  it('takes what the source held when it began, and the rest on the next run', async () => {
    const before = await copyStore(source, target);
    await source.append('service-s1', events(3), 'any');
    const after = await copyStore(source, target);
    expect(after).toMatchObject({ copied: 3, events: before.events + 3 });
  });

  it('carries retention changed in the source since the last run, a removed one included', async () => {
    await copyStore(source, target);
    await source.setStreamMetadata('health-s0', {});
    await source.setStreamMetadata('service-s3', { maxCount: 500 });
    expect(await copyStore(source, target)).toMatchObject({ copied: 0, retention: 4 });
    expect(await target.getStreamMetadata('health-s0')).toEqual({});
    expect(await target.getStreamMetadata('service-s3')).toEqual({ maxCount: 500 });
  });

  it('refuses a target that is not empty and not the start of the source, writing nothing', async () => {
    await target.append('other', events(1), 'no_stream');
    const attempt = copyStore(source, target);
    await expect(attempt).rejects.toBeInstanceOf(StoreCopyRefused);
    await expect(attempt).rejects.toThrow(/not the start of the source's history: its event #1 is .*other@0/);
    expect(await target.headPosition()).toBe(1n);
  });

  it('refuses a target that holds more than the source', async () => {
    await copyStore(source, target);
    await target.append('service-s0', events(1), 'any');
    await expect(copyStore(source, target)).rejects.toThrow(/event #\d+ is .*service-s0.*the source's is nothing/);
  });

  it('reports a target that does not keep recorded times as a mismatch', async () => {
    // An adapter that ignored the recordedAt an import gives would stamp its own time.
    const forgetful = new Proxy(target, {
      get: (store, key) =>
        key === 'append'
          ? (...args: Parameters<EventStore['append']>) => store.append(args[0], args[1], args[2])
          : Reflect.get(store, key, store),
    });
    const attempt = copyStore(source, forgetful);
    await expect(attempt).rejects.toBeInstanceOf(StoreCopyMismatch);
    await expect(attempt).rejects.toThrow(/first difference at event #1: source .* at 2026-01-01T00:00:00\.000Z/);
  });
});
