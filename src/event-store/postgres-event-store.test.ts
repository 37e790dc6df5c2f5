import { afterAll } from 'vitest';
import { describeEventStoreContract } from './event-store.contract.js';
import { PostgresEventStore } from './postgres-event-store.js';
import { postgresBinDir, startPostgres } from '../testing/postgres-server.js';

if (!(await postgresBinDir()) && process.env.CI === 'true')
  throw new Error('PostgreSQL is missing: run scripts/provision.sh');
const server = await startPostgres();
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
    dispose: async () => {
      await store.close();
      await server.psql(`DROP DATABASE ${database} WITH (FORCE)`);
    },
  };
});
