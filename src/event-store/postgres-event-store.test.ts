import { createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../drills/toxiproxy.js';
import { postgresBinDir, startPostgres, startStandby } from '../testing/postgres-server.js';
import { postgresForTests } from '../testing/test-servers.js';
import { ForeignStore, StoreUnavailable } from './errors.js';
import { collect, describeEventStoreContract, events, newEvent, take } from './event-store.contract.js';
import { openStore } from './open-store.js';
import { MIGRATIONS, PostgresEventStore, type PostgresEventStoreOptions } from './postgres-event-store.js';
import { describeSharedPagesContract } from './shared-pages.contract.js';

if (!(await postgresBinDir()) && process.env.CI === 'true')
  throw new Error('PostgreSQL is missing: run scripts/provision.sh');
// The contract's server comes from the fixture that decides (a container where Docker runs); the tests that stop,
// restart or replicate a server start native ones of their own.
const server = await postgresForTests();
afterAll(() => server.stop());

let databases = 0;
/** A fresh, empty database on the file's server: each test its own store. */
async function freshDatabase(): Promise<string> {
  databases += 1;
  const name = `store_${databases}`;
  await server.psql(`CREATE DATABASE ${name}`);
  return name;
}

describeEventStoreContract('PostgreSQL', async () => {
  const database = await freshDatabase();
  const store = await PostgresEventStore.open({ url: server.url(database), fallbackPollIntervalMs: 200 });
  return {
    store,
    archive: store.archive,
    url: server.url(database),
    // After killed appenders: the head covers every position, each stream's revision is its newest event's.
    checkIntegrity: async () => {
      expect(
        await server.psql(
          `SELECT (SELECT position FROM failsafe_head) >= coalesce((SELECT max(position) FROM failsafe_events), 0),
                  NOT EXISTS (SELECT 1 FROM failsafe_streams s JOIN failsafe_events e ON e.stream_id = s.id
                              GROUP BY s.id, s.last_revision HAVING max(e.revision) <> s.last_revision)`,
          database,
        ),
      ).toBe('t|t\n');
    },
    dispose: async () => {
      await store.close();
      await server.psql(`DROP DATABASE ${database} WITH (FORCE)`);
    },
  };
});

describeSharedPagesContract('PostgreSQL', async () => {
  const database = await freshDatabase();
  const store = await PostgresEventStore.open({
    url: server.url(database),
    readPageSize: 10,
    fallbackPollIntervalMs: 200,
  });
  return {
    store,
    dispose: async () => {
      await store.close();
      await server.psql(`DROP DATABASE ${database} WITH (FORCE)`);
    },
  };
});

describe('PostgreSQL event store', () => {
  const opened: PostgresEventStore[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((store) => store.close()));
  });
  const open = async (database: string, options: Partial<PostgresEventStoreOptions> = {}) => {
    const store = await PostgresEventStore.open({ url: server.url(database), ...options });
    opened.push(store);
    return store;
  };

  const listenerPid = async (database: string) =>
    (
      await server.psql(
        `SELECT pid FROM pg_stat_activity WHERE application_name = 'failsafe-listener' AND datname = '${database}'`,
      )
    ).trim();

  /** Ends the store's LISTEN connection on the server; resolves to that connection's pid. */
  async function cutListener(database: string): Promise<string> {
    const before = await listenerPid(database);
    expect(before).toMatch(/^\d+$/);
    await server.psql(`SELECT pg_terminate_backend(${before})`);
    return before;
  }

  /** Resolves once a new LISTEN connection has replaced the one `before` was. */
  async function relistened(database: string, before: string): Promise<void> {
    let after = '';
    for (let i = 0; i < 100 && (after === '' || after === before); i += 1) {
      await sleep(50);
      after = await listenerPid(database);
    }
    expect(after).toMatch(/^\d+$/);
    expect(after).not.toBe(before);
  }

  it('delivers $all to a live subscriber exactly once and in order under 16 writers, one committing late', async () => {
    const database = await freshDatabase();
    const reader = await open(database, { fallbackPollIntervalMs: 60_000 });
    // An append of a `Late` event sleeps after taking its positions and before its commit: the
    // transaction a sequence-numbered store lets readers pass, skipping its events for good.
    await server.psql(
      `CREATE FUNCTION linger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.2); RETURN NULL; END $$;
       CREATE TRIGGER linger AFTER INSERT ON failsafe_events FOR EACH ROW WHEN (NEW.type = 'Late')
       EXECUTE FUNCTION linger()`,
      database,
    );
    const subscription = reader.subscribe();
    const writers = await Promise.all(Array.from({ length: 16 }, () => open(database, { maxConnections: 1 })));
    const sizes = [1, 7, 1, 30, 2, 100];
    const batches = writers.map((_, w) =>
      Array.from({ length: 8 }, (_, i) =>
        i === 3 && w % 4 === 0 ? [newEvent('Late')] : events(sizes[(w + i) % sizes.length]!),
      ),
    );
    const written = batches.flat(2).map((e) => e.id);
    // The subscriber reads while the writers write (a subscription reads only while iterated).
    const receiving = take(subscription, written.length, 30_000);
    await Promise.all(
      writers.map(async (writer, w) => {
        for (const batch of batches[w]!) await writer.append(`svc-${w % 5}`, batch, 'any');
      }),
    );
    try {
      const received = await receiving;
      const positions = received.map((e) => e.position);
      expect(positions.every((p, i) => i === 0 || p > positions[i - 1]!)).toBe(true);
      expect(new Set(received.map((e) => e.id))).toEqual(new Set(written));
      expect(received.filter((e) => e.type === 'Late')).toHaveLength(4);
      expect((await collect(reader.readAll())).map((e) => e.id)).toEqual(received.map((e) => e.id));
      // Nothing more comes, nor anything twice: the next event delivered is the next one appended.
      const marker = newEvent('Marker');
      await writers[0]!.append('svc-0', [marker], 'any');
      expect((await take(subscription, 1))[0]!.id).toBe(marker.id);
    } finally {
      await subscription.close();
    }
  }, 120_000);

  it('wakes a live subscription by NOTIFY long before its fallback poll, also after the listener is cut', async () => {
    const database = await freshDatabase();
    const reader = await open(database, { fallbackPollIntervalMs: 600_000 });
    const writer = await open(database);
    const subscription = reader.subscribe({ after: 'end' });
    try {
      const first = events(1);
      await writer.append('svc', first, 'any');
      expect((await take(subscription, 1, 20_000))[0]!.id).toBe(first[0]!.id);
      const before = await cutListener(database);
      const second = events(2);
      await writer.append('svc', second, 'any');
      expect((await take(subscription, 2, 20_000)).map((e) => e.id)).toEqual(second.map((e) => e.id));
      await relistened(database, before);
    } finally {
      await subscription.close();
    }
  }, 60_000);

  it('forgets the pages its subscriptions shared once the listener is cut: the server may be another now', async () => {
    const database = await freshDatabase();
    const store = await open(database, { readPageSize: 10, fallbackPollIntervalMs: 200 });
    await store.append('svc', events(45), 'any');
    const first = store.subscribe();
    try {
      expect(await take(first, 45)).toHaveLength(45);
      // A stand-in for a standby promoted without the last commits, which handed positions 26 on out again:
      // other events at positions the shared pages hold.
      await server.psql("UPDATE failsafe_events SET type = 'Promoted' WHERE position > 25", database);
      await relistened(database, await cutListener(database));
      const behind = store.subscribe({ after: 13n });
      const types = (await take(behind, 32)).map((e) => e.type);
      await behind.close();
      expect(types.slice(0, 12).every((type) => type !== 'Promoted')).toBe(true);
      expect(types.slice(12)).toEqual(Array(20).fill('Promoted'));
    } finally {
      await first.close();
    }
  }, 60_000);

  it('commits with synchronous_commit on even where the database defaults to off', async () => {
    const database = await freshDatabase();
    await server.psql(`ALTER DATABASE ${database} SET synchronous_commit = off`);
    const store = await open(database);
    expect(await store.durability()).toEqual({ synchronousCommit: 'on' });
  });

  it('creates its schema once when several processes start on a new database at once', async () => {
    const database = await freshDatabase();
    const stores = await Promise.all(Array.from({ length: 6 }, () => open(database, { maxConnections: 1 })));
    expect(await server.psql('SELECT version FROM failsafe_schema', database)).toBe(`${MIGRATIONS.length}\n`);
    expect(await server.psql('SELECT count(*) FROM failsafe_head', database)).toBe('1\n');
    await stores[0]!.append('svc', events(2), 'no_stream');
    expect(await stores[5]!.headPosition()).toBe(2n);
  });

  it('refuses a store written by a newer Failsafe, and leaves it untouched', async () => {
    const database = await freshDatabase();
    const store = await open(database);
    await store.append('svc', events(3), 'no_stream');
    await server.psql('UPDATE failsafe_schema SET version = 99', database);
    const snapshot = () =>
      server.psql(
        `SELECT (SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'),
                (SELECT count(*) FROM failsafe_events), (SELECT version FROM failsafe_schema)`,
        database,
      );
    const before = await snapshot();
    const error = await PostgresEventStore.open({ url: server.url(database) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForeignStore);
    expect((error as Error).message).toMatch(/newer Failsafe \(store schema 99; this one reads up to 1\)/);
    expect(await snapshot()).toBe(before);
  });

  it('applies the migrations a store lacks, from the version it records', async () => {
    const database = await freshDatabase();
    await server.psql(
      'CREATE TABLE failsafe_schema (version integer NOT NULL); INSERT INTO failsafe_schema VALUES (0)',
      database,
    );
    const store = await open(database);
    expect(await server.psql('SELECT version FROM failsafe_schema', database)).toBe(`${MIGRATIONS.length}\n`);
    expect(await store.append('svc', events(1), 'no_stream')).toMatchObject({ position: 1n });
  });

  it('says StoreUnavailable, naming it, when the database does not exist', async () => {
    await expect(PostgresEventStore.open({ url: server.url('never_created') })).rejects.toThrow(
      /^StoreUnavailable: .*\/never_created: database "never_created" does not exist; check the server and the URL$/,
    );
  });

  it('refuses a database holding failsafe_ tables without a schema version', async () => {
    const database = await freshDatabase();
    await server.psql('CREATE TABLE failsafe_events (n int)', database);
    await expect(PostgresEventStore.open({ url: server.url(database) })).rejects.toThrow(
      /ForeignStore: .* no failsafe_schema/,
    );
    expect(await server.psql("SELECT to_regclass('failsafe_schema') IS NULL", database)).toBe('t\n');
  });

  it('says StoreUnavailable, with the password masked, when nothing listens at the URL', async () => {
    const port = await freePort();
    const error = await openStore(`postgresql://postgres:s3cret@127.0.0.1:${port}/x`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailable);
    expect((error as Error).message).toBe(
      `StoreUnavailable: postgresql://postgres:***@127.0.0.1:${port}/x: connection refused; ` +
        'check the server and the URL',
    );
  });

  it('gives up with StoreUnavailable after the connect timeout when the server never answers', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      const url = `postgresql://postgres@127.0.0.1:${port}/x`;
      const error = await PostgresEventStore.open({ url, connectTimeoutSeconds: 1 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailable);
      expect((error as Error).message).toMatch(/connection timed out/);
    } finally {
      silent.close();
    }
  });

  it('says StoreUnavailable while its server is down, then reconnects, and its subscriber carries on', async () => {
    const own = await startPostgres();
    try {
      const store = await PostgresEventStore.open({
        url: own.url(),
        fallbackPollIntervalMs: 600_000,
        connectTimeoutSeconds: 2,
      });
      opened.push(store);
      const subscription = store.subscribe();
      // A subscriber that polls during the outage: its failing reads must not end it.
      const poller = await PostgresEventStore.open({ url: own.url(), fallbackPollIntervalMs: 100 });
      opened.push(poller);
      const polling = poller.subscribe();
      try {
        const before = events(2);
        await store.append('svc', before, 'no_stream');
        expect((await take(subscription, 2)).map((e) => e.id)).toEqual(before.map((e) => e.id));
        expect((await take(polling, 2)).map((e) => e.id)).toEqual(before.map((e) => e.id));
        const waiting = take(polling, 2, 30_000);
        await own.stop({ mode: 'immediate', keep: true });
        const error = await store.append('svc', events(1), 'any').catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StoreUnavailable);
        expect((error as Error).message).toContain(`127.0.0.1:${own.port}`);
        await sleep(1_000);
        await own.start();
        const after = events(2);
        await store.append('svc', after, 1n);
        // Only a LISTEN re-established after the restart can deliver these before the 10-minute poll.
        expect((await take(subscription, 2, 30_000)).map((e) => e.id)).toEqual(after.map((e) => e.id));
        expect((await waiting).map((e) => e.id)).toEqual(after.map((e) => e.id));
      } finally {
        await subscription.close();
        await polling.close();
      }
    } finally {
      await own.stop();
    }
  }, 60_000);

  it('with target_session_attrs=read-write, passes a host that is down and a standby to the primary', async () => {
    const primary = await startPostgres();
    const database = 'failover';
    await primary.psql(`CREATE DATABASE ${database}`);
    const standby = await startStandby(primary, { name: 'follower' });
    try {
      const down = await freePort();
      const url =
        `postgresql://postgres@127.0.0.1:${down},127.0.0.1:${standby.port},127.0.0.1:${primary.port}/${database}` +
        '?target_session_attrs=read-write';
      const store = await openStore(url);
      try {
        expect(await store.append('svc', events(2), 'no_stream')).toMatchObject({ position: 2n });
      } finally {
        await store.close();
      }
      const standbyOnly = `postgresql://postgres@127.0.0.1:${standby.port}/${database}?target_session_attrs=read-write`;
      await expect(openStore(standbyOnly)).rejects.toThrow(
        /^StoreUnavailable: .*none of the listed servers may be a primary \(target_session_attrs\); check the server/,
      );
    } finally {
      await standby.stop();
      await primary.stop();
    }
  }, 60_000);
});
