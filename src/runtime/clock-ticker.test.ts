import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collect } from '../event-store/event-store.contract.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { fixedClock } from './clock.js';
import { ClockTicker } from './clock-ticker.js';
import { CLOCK_STREAM } from '../domain/streams.js';

describe('the clock ticker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'failsafe-ticker-'));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('records the slot of the time its clock tells, once however often it ticks in that slot', async () => {
    const store = SqliteEventStore.open({ path: join(dir, 'events.db') });
    const clock = fixedClock('2026-11-24T10:00:07Z');
    try {
      const ticker = new ClockTicker(store, 10_000, clock);
      await ticker.tick();
      await ticker.tick();
      clock.set('2026-11-24T10:00:12Z');
      await ticker.tick();
      const ticks = await collect(store.readStream(CLOCK_STREAM));
      expect(ticks.map((e) => e.data.at)).toEqual(['2026-11-24T10:00:00.000Z', '2026-11-24T10:00:10.000Z']);
    } finally {
      await store.close();
    }
  });
});
