/**
 * One fixture decides where the servers the tests need come from: testcontainers wherever a Docker
 * engine answers, else this machine's own provisioning (PostgreSQL from its binaries, see
 * `postgres-server.ts`). EventStoreDB has no native path (no registry reached here ships it): it is
 * the server `EVENTSTORE_URL` names, or a container, or skipped with the reason.
 *
 *   const pg = await postgresForTests();         // { url(db), psql(sql, db), stop }
 *   const esdb = await eventStoreForTests();     // { url, stop } | { skipped: reason }
 *
 * Each call starts a server of its own (a given `EVENTSTORE_URL` is shared, and not stopped); the
 * path taken is said in one line on stderr.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startPostgres } from './postgres-server.js';

export interface TestServer {
  readonly url: string;
  stop(): Promise<void>;
}

export interface SkippedServer {
  readonly skipped: string;
}

/** Pinned: the same PostgreSQL major as Debian's here. */
export const POSTGRES_IMAGE = 'postgres:15.8-alpine';
/** Pinned: the KurrentDB image testcontainers' own KurrentDB module is tested with (Docker Hub). */
export const EVENTSTORE_IMAGE = 'kurrentplatform/kurrentdb:25.0';
/** testcontainers' runtime check answers in milliseconds; a hung socket must not hang the tests. */
export const DOCKER_CHECK_TIMEOUT_MS = 10_000;

export type DockerCheck = { readonly available: true } | { readonly available: false; readonly reason: string };

export type ServerSource =
  | { readonly kind: 'given'; readonly url: string }
  | { readonly kind: 'testcontainers'; readonly image: string }
  | { readonly kind: 'native' }
  | { readonly kind: 'skipped'; readonly reason: string };

/** The decision, from what the machine offers. */
export function chooseSource(
  server: 'postgres' | 'eventstore',
  docker: DockerCheck,
  env: { readonly EVENTSTORE_URL?: string | undefined },
): ServerSource {
  if (server === 'postgres')
    return docker.available ? { kind: 'testcontainers', image: POSTGRES_IMAGE } : { kind: 'native' };
  const given = env.EVENTSTORE_URL?.trim();
  if (given) return { kind: 'given', url: given };
  if (docker.available) return { kind: 'testcontainers', image: EVENTSTORE_IMAGE };
  return { kind: 'skipped', reason: `no EVENTSTORE_URL and no Docker engine (${docker.reason})` };
}

/** `check` settled, or "no answer" once `timeoutMs` passed. */
export async function boundedCheck(check: Promise<DockerCheck>, timeoutMs: number): Promise<DockerCheck> {
  const timer = new AbortController();
  const silent: DockerCheck = { available: false, reason: `no answer from a container runtime in ${timeoutMs} ms` };
  // Aborted once `check` settled; the rejection that makes is nobody's answer.
  const timeout = sleep(timeoutMs, silent, { signal: timer.signal }).catch(() => silent);
  try {
    return await Promise.race([check, timeout]);
  } finally {
    timer.abort();
  }
}

async function runtimeCheck(): Promise<DockerCheck> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return { available: true };
  } catch (error) {
    return { available: false, reason: (error as Error).message };
  }
}

let docker: Promise<DockerCheck> | undefined;

/** testcontainers' own runtime check (Docker socket, DOCKER_HOST, ~/.testcontainers.properties), once a process. */
export function dockerCheck(): Promise<DockerCheck> {
  docker ??= boundedCheck(runtimeCheck(), DOCKER_CHECK_TIMEOUT_MS);
  return docker;
}

const announce = (server: string, path: string) => process.stderr.write(`test servers: ${server} ${path}\n`);

/** A PostgreSQL for tests, wherever it came from: superuser `postgres`, no data of anyone else's. */
export interface PostgresForTests {
  /** A URL to `database` (default `postgres`). */
  url(database?: string): string;
  /** Runs SQL through the server's own psql; the output, unaligned and tuples only. */
  psql(sql: string, database?: string): Promise<string>;
  stop(): Promise<void>;
}

/** A fresh, empty PostgreSQL. Tests that stop, restart or replicate the server use `postgres-server.ts`. */
export async function postgresForTests(): Promise<PostgresForTests> {
  const source = chooseSource('postgres', await dockerCheck(), process.env);
  if (source.kind === 'testcontainers') {
    announce('PostgreSQL', `via testcontainers (${source.image})`);
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer(source.image)
      .withUsername('postgres')
      .withDatabase('postgres')
      .start();
    const base = new URL(container.getConnectionUri());
    return {
      url: (database = 'postgres') => Object.assign(new URL(base), { pathname: `/${database}` }).href,
      psql: async (sql, database = 'postgres') => {
        const { exitCode, output } = await container.exec([
          'psql',
          '-U',
          'postgres',
          '-d',
          database,
          '-XAtq',
          '-c',
          sql,
        ]);
        if (exitCode !== 0) throw new Error(`psql failed: ${output.trim()}`);
        return output;
      },
      stop: async () => {
        await container.stop();
      },
    };
  }
  announce('PostgreSQL', "native (this machine's binaries; no Docker engine)");
  const server = await startPostgres();
  return {
    url: (database) => server.url(database),
    psql: (sql, database) => server.psql(sql, database),
    stop: () => server.stop(),
  };
}

/** An EventStoreDB / KurrentDB to run against (insecure, single node), or why there is none. */
export async function eventStoreForTests(): Promise<TestServer | SkippedServer> {
  const source = chooseSource('eventstore', await dockerCheck(), process.env);
  switch (source.kind) {
    case 'given':
      announce('EventStoreDB', 'from EVENTSTORE_URL');
      return { url: source.url, stop: async () => {} };
    case 'testcontainers': {
      announce('EventStoreDB', `via testcontainers (${source.image})`);
      const { GenericContainer, Wait } = await import('testcontainers');
      const container = await new GenericContainer(source.image)
        .withExposedPorts(2113)
        .withEnvironment({ KURRENTDB_CLUSTER_SIZE: '1', KURRENTDB_INSECURE: 'true' })
        .withWaitStrategy(Wait.forHealthCheck())
        .withStartupTimeout(120_000)
        .start();
      return {
        url: `kurrentdb://${container.getHost()}:${container.getMappedPort(2113)}?tls=false`,
        stop: async () => {
          await container.stop();
        },
      };
    }
    case 'skipped':
      announce('EventStoreDB', `skipped: ${source.reason}`);
      return { skipped: source.reason };
    default:
      throw new Error(`EventStoreDB has no ${source.kind} path`);
  }
}
