import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthSampleEvent } from '../../bench/health-sample-events.js';
import type { ExpectedRevision } from './event-store.js';
import { PostgresEventStore } from './postgres-event-store.js';
import { type PostgresPair, promoteStandby, startPostgresPair } from '../testing/postgres-pair.js';
import { postgresBinDir } from '../testing/postgres-server.js';

const bin = await postgresBinDir();
if (!bin && process.env.CI === 'true') throw new Error('PostgreSQL is missing: run scripts/provision.sh');

const WRITERS = 4;

describe.skipIf(!bin)('PostgreSQL store: the standby promoted while Failsafe appends', () => {
  let pair: PostgresPair;
  beforeAll(async () => {
    pair = await startPostgresPair();
  }, 60_000);
  afterAll(async () => {
    await pair?.standby.stop();
    await pair?.primary.stop();
  });

  it('reconnects through the multi-host URL and loses no acknowledged event', async () => {
    const store = await PostgresEventStore.open({ url: pair.url, connectTimeoutSeconds: 2 });
    let phase: 'before' | 'during' | 'after' = 'before';
    const acknowledged = { before: [] as string[], during: [] as string[], after: [] as string[] };
    let failures = 0;
    let stop = false;
    // Writers append one event at a time, each to its own stream with its revision tracked; an append
    // that fails is retried with the same event (same id) until it is acknowledged, as Failsafe does.
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      let expected: ExpectedRevision = 'no_stream';
      for (let n = 0; !stop; n += 1) {
        const event = healthSampleEvent(w, n);
        for (;;) {
          try {
            expected = (await store.append(`health-w${w}`, [event], expected)).nextExpectedRevision;
            acknowledged[phase].push(event.id);
            break;
          } catch {
            failures += 1;
            await sleep(20);
          }
        }
      }
    });
    const until = async (done: () => boolean) => {
      for (let waited = 0; !done(); waited += 10) {
        if (waited > 60_000) throw new Error('the writers made no progress for 60 s');
        await sleep(10);
      }
    };

    await until(() => acknowledged.before.length >= 200);
    phase = 'during';
    await pair.primary.stop({ mode: 'immediate', keep: true });
    // The harness promotes as an operator would, which includes clearing synchronous_standby_names
    // (copied from the old primary): left set, every commit on the new primary would hang.
    await promoteStandby(pair.standby);
    phase = 'after';
    await until(() => acknowledged.after.length >= 200);
    stop = true;
    await Promise.all(writers);

    const stored: string[] = [];
    for await (const event of store.readAll()) stored.push(event.id);
    await store.close();
    const all = [...acknowledged.before, ...acknowledged.during, ...acknowledged.after];
    const counts = new Map<string, number>();
    for (const id of stored) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect(all.filter((id) => counts.get(id) !== 1)).toEqual([]);
    expect(new Set(stored).size).toBe(stored.length);
    // Appends failed while no primary answered, and the store went on, on the promoted standby.
    expect(failures).toBeGreaterThan(0);
    expect(await pair.standby.psql('SELECT pg_is_in_recovery()', 'failsafe')).toBe('f\n');
    expect(Number(await pair.standby.psql('SELECT count(*) FROM failsafe_events', 'failsafe'))).toBe(stored.length);
  }, 120_000);
});
