import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { postgresBinDir } from './postgres-server.js';
import {
  boundedCheck,
  chooseSource,
  type DockerCheck,
  dockerCheck,
  EVENTSTORE_IMAGE,
  POSTGRES_IMAGE,
  postgresForTests,
} from './test-servers.js';

const run = promisify(execFile);
const docker: DockerCheck = { available: true };
const noDocker: DockerCheck = { available: false, reason: 'Could not find a working container runtime strategy' };

describe('the test-server fixture decides', () => {
  it('takes testcontainers for PostgreSQL wherever Docker answers, else the native cluster', () => {
    expect(chooseSource('postgres', docker, {})).toEqual({ kind: 'testcontainers', image: POSTGRES_IMAGE });
    expect(chooseSource('postgres', noDocker, { EVENTSTORE_URL: 'esdb://h:2113' })).toEqual({ kind: 'native' });
  });

  it('takes the EventStoreDB that EVENTSTORE_URL names first, then a container, else skips with the reason', () => {
    const given = 'esdb://127.0.0.1:2113?tls=false';
    expect(chooseSource('eventstore', docker, { EVENTSTORE_URL: given })).toEqual({ kind: 'given', url: given });
    expect(chooseSource('eventstore', noDocker, { EVENTSTORE_URL: ` ${given} ` })).toEqual({
      kind: 'given',
      url: given,
    });
    expect(chooseSource('eventstore', docker, { EVENTSTORE_URL: '' })).toEqual({
      kind: 'testcontainers',
      image: EVENTSTORE_IMAGE,
    });
    expect(chooseSource('eventstore', noDocker, {})).toEqual({
      kind: 'skipped',
      reason: 'no EVENTSTORE_URL and no Docker engine (Could not find a working container runtime strategy)',
    });
  });

  it('stops waiting for a container runtime that never answers', async () => {
    const hung = new Promise<DockerCheck>(() => {});
    expect(await boundedCheck(hung, 50)).toEqual({
      available: false,
      reason: 'no answer from a container runtime in 50 ms',
    });
    expect(await boundedCheck(Promise.resolve(docker), 60_000)).toEqual(docker);
  });

  it("gives testcontainers' own answer about this machine, with a reason when it finds no runtime", async () => {
    const check = await dockerCheck();
    expect(check.available || check.reason.length > 0).toBe(true);
    expect(await dockerCheck()).toBe(check);
  });
});

const bin = await postgresBinDir();
const check = await dockerCheck();
const native = !check.available;
if (native && !bin && process.env.CI === 'true') throw new Error('PostgreSQL is missing: run scripts/provision.sh');

describe.skipIf(!native || !bin)('the native PostgreSQL path (no Docker engine here)', () => {
  const psql = (url: string) => run(join(bin!, 'psql'), [url, '-XAtc', 'SELECT 1'], { timeout: 10_000 });

  it('starts a throwaway cluster that answers on its URL, and stop() takes it away', async () => {
    const server = await postgresForTests();
    try {
      expect(server.url()).toMatch(/^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
      expect((await psql(server.url())).stdout).toBe('1\n');
      await server.psql('CREATE DATABASE other');
      expect(await server.psql('SELECT current_database()', 'other')).toBe('other\n');
      expect((await psql(server.url('other'))).stdout).toBe('1\n');
    } finally {
      await server.stop();
    }
    await expect(psql(server.url())).rejects.toThrow(/Connection refused|could not connect/i);
  });
});
