import { PostgresEventStore } from '../event-store/postgres-event-store.js';
import type { PostgresForTests } from './test-servers.js';

let created = 0;

/** A store on a new, empty database of `server` (each test or property run its own), and how to drop it. */
export async function freshPostgresStore(
  server: PostgresForTests,
  prefix: string,
): Promise<{ store: PostgresEventStore; url: string; dispose(): Promise<void> }> {
  created += 1;
  const name = `${prefix}_${created}`;
  await server.psql(`CREATE DATABASE ${name}`);
  const url = server.url(name);
  const store = await PostgresEventStore.open({ url });
  const dispose = async () => {
    await store.close();
    await server.psql(`DROP DATABASE ${name} WITH (FORCE)`);
  };
  return { store, url, dispose };
}
