import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthSampleEvent } from '../../bench/health-sample-events.js';
import { ReplicationStalled } from './errors.js';
import { PostgresEventStore } from './postgres-event-store.js';
import { type PostgresPair, STANDBY_NAME, startPostgresPair } from '../testing/postgres-pair.js';
import { postgresBinDir } from '../testing/postgres-server.js';

const bin = await postgresBinDir();
if (!bin && process.env.CI === 'true') throw new Error('PostgreSQL is missing: run scripts/provision.sh');

describe.skipIf(!bin)('PostgreSQL store: a primary whose only synchronous standby is gone', () => {
  let pair: PostgresPair;
  beforeAll(async () => {
    pair = await startPostgresPair();
  }, 60_000);
  const untilSynchronous = async () => {
    const query = `SELECT sync_state FROM pg_stat_replication WHERE application_name = '${STANDBY_NAME}'`;
    for (let attempt = 0; (await pair.primary.psql(query)).trim() !== 'sync'; attempt += 1) {
      if (attempt > 300) throw new Error('the standby did not become synchronous again within 30 s');
      await sleep(100);
    }
  };
  afterAll(async () => {
    await pair?.standby.stop();
    await pair?.primary.stop();
  });

  it('fails the append with ReplicationStalled after the bound; a retry with the same ids writes once', async () => {
    const store = await PostgresEventStore.open({ url: pair.primary.url('failsafe'), replicationTimeoutMs: 1000 });
    const first = healthSampleEvent(1, 0);
    const second = healthSampleEvent(1, 1);
    await store.append('health-svc-1', [first], 'no_stream');
    const copies = (server = pair.primary) =>
      server.psql(`SELECT count(*) FROM failsafe_events WHERE id = '${second.id}'`, 'failsafe');

    await pair.standby.stop({ keep: true });
    const started = performance.now();
    const stalled = await store.append('health-svc-1', [second], 0n).then(
      () => undefined,
      (error: unknown) => error,
    );
    const waited = performance.now() - started;
    expect(stalled).toBeInstanceOf(ReplicationStalled);
    expect((stalled as ReplicationStalled).code).toBe('REPLICATION_STALLED');
    expect((stalled as Error).message).toMatch(/committed on the primary but no synchronous standby confirmed it/);
    expect(waited).toBeGreaterThanOrEqual(1000);
    expect(waited).toBeLessThan(10_000);
    // The server cancelled the wait with a mere warning: the event is on the primary, unacknowledged.
    expect(await copies()).toBe('1\n');

    // Retried while the standby is still away: not acknowledged either.
    await expect(store.append('health-svc-1', [second], 0n)).rejects.toBeInstanceOf(ReplicationStalled);

    await pair.standby.start();
    await untilSynchronous();
    const retried = await store.append('health-svc-1', [second], 0n);
    expect(retried.nextExpectedRevision).toBe(1n);
    const stream: string[] = [];
    for await (const event of store.readStream('health-svc-1')) stream.push(event.id);
    expect(stream).toEqual([first.id, second.id]);
    expect(await copies()).toBe('1\n');
    await store.close();
  }, 60_000);

  it('fails each of several concurrent appends, none reported written; their retries write each once', async () => {
    const store = await PostgresEventStore.open({ url: pair.url, replicationTimeoutMs: 1000 });
    const events = [0, 1, 2].map((w) => healthSampleEvent(10 + w, 0));
    const appendAll = () =>
      Promise.allSettled(events.map((event, w) => store.append(`health-concurrent-${w}`, [event], 'no_stream')));
    await pair.standby.stop({ keep: true });
    // They commit one after another (the head row's lock): each waits its own bound.
    const outcomes = await appendAll();
    expect(outcomes.map((o) => (o.status === 'rejected' ? o.reason.constructor.name : 'written'))).toEqual([
      'ReplicationStalled',
      'ReplicationStalled',
      'ReplicationStalled',
    ]);
    await pair.standby.start();
    await untilSynchronous();
    expect((await appendAll()).map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    const ids = events.map((e) => `'${e.id}'`).join(',');
    expect(await pair.primary.psql(`SELECT count(*) FROM failsafe_events WHERE id IN (${ids})`, 'failsafe')).toBe(
      '3\n',
    );
    await store.close();
  }, 60_000);
});
