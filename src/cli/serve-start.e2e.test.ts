import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { writeHistory } from '../../bench/bench-history.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { startServeProcess } from '../testing/serve-process.js';

const EVENTS = 200_000;

describe('serve on a long history it has no checkpoints for', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'failsafe-serve-start-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('listens at once, /ready saying how far each read model lags, until they have caught up', async () => {
    const store = SqliteEventStore.open({ path: join(dataDir, 'failsafe.db') });
    await writeHistory(store, EVENTS, { services: 50, healthStreams: false });
    await store.close();
    const serve = await startServeProcess({ dataDir, timeoutMs: 60_000 });
    try {
      // Before, the catch-up held the whole start in one turn of the event loop: serve listened only
      // once every read model had caught up, so its first /ready was already 200.
      const first = await fetch(`${serve.url}/ready`);
      const { lag } = (await first.json()) as { lag: Record<string, number> };
      expect(first.status).toBe(503);
      expect(Object.keys(lag)).toContain('service-state');
      expect(Math.max(...Object.values(lag))).toBeGreaterThan(1000);
      await vi.waitFor(async () => expect((await fetch(`${serve.url}/ready`)).status).toBe(200), {
        timeout: 120_000,
        interval: 250,
      });
    } finally {
      await serve.stop();
    }
  }, 240_000);
});
