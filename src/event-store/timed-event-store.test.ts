import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, events } from './event-store.contract.js';
import { SqliteEventStore } from './sqlite-event-store.js';
import { TimedEventStore } from './timed-event-store.js';

describe('Timed event store', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-timed-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('times each append and passes its options through, so an import keeps its recordedAt', async () => {
    const observed: string[] = [];
    const store = new TimedEventStore(SqliteEventStore.open({ path: join(dir, 'events.db') }), (_, outcome) =>
      observed.push(outcome),
    );
    try {
      await store.append('svc', events(1), 'no_stream', { recordedAt: new Date('2025-01-02T03:04:05.006Z') });
      await expect(store.append('svc', events(1), 'no_stream')).rejects.toThrow(/WrongExpectedRevision/);
      expect((await collect(store.readAll())).map((e) => e.recordedAt.toISOString())).toEqual([
        '2025-01-02T03:04:05.006Z',
      ]);
      expect(observed).toEqual(['ok', 'WrongExpectedRevision']);
    } finally {
      await store.close();
    }
  });
});
