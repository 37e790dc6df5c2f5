import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { handleCommand } from '../application/command-handler.js';
import type { Role } from '../auth/roles.js';
import { hashToken, newToken } from '../auth/tokens.js';
import { loadServeConfig, type ServeConfig } from '../config/serve-config.js';
import { startControlPlane, STORE_FILE } from '../control-plane.js';
import { migrationDecider } from '../domain/migration.js';
import { serviceDecider, type ServiceCommand } from '../domain/service-decider.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { collect } from '../event-store/event-store.contract.js';
import { encodeEvent } from '../events/catalogue.js';
import { eventExamples } from '../events/event-examples.fixture.js';
import { healthStream, migrationStream, serviceStream } from '../domain/streams.js';

export const PEOPLE = {
  admin: 'admin',
  alice: 'operator',
  bob: 'approver',
  vera: 'viewer',
  audrey: 'auditor',
  alma: 'alertmanager',
} as const satisfies Record<string, Role>;
export type Person = keyof typeof PEOPLE;

/** A registered service with two healthy releases (v1.0.0 is its last known good) and a migration at stage v2. */
async function seedService(store: SqliteEventStore, service: string): Promise<void> {
  const run = (command: ServiceCommand) =>
    handleCommand(store, serviceStream(service), serviceDecider, command, { actor: 'seed', now: new Date() });
  await run({ type: 'RegisterService', service, source: 'api' });
  for (const release of ['v1.0.0', 'v1.1.0']) {
    const deploymentId = `d-${release}`;
    await run({ type: 'RequestDeployment', service, deploymentId, release, now: new Date() });
    await run({ type: 'StartDeployment', service, deploymentId });
    await run({ type: 'MarkDeploymentHealthy', service, deploymentId });
  }
  const migrationId = `m-${service}`;
  const context = { actor: 'seed', now: new Date() };
  await handleCommand(
    store,
    migrationStream(migrationId),
    migrationDecider,
    { type: 'StartMigration', migrationId, service, name: 'schema', stages: ['v1', 'v2', 'v3'] },
    context,
  );
  await handleCommand(
    store,
    migrationStream(migrationId),
    migrationDecider,
    { type: 'AdvanceMigrationStage', migrationId, toStage: 'v2' },
    context,
  );
}

/** A recorded automatic decision with its evidence, for explain_decision. Returns the decision's event id. */
async function seedDecision(store: SqliteEventStore, service: string): Promise<string> {
  const sampleId = randomUUID();
  const decisionId = randomUUID();
  const sample = { ...eventExamples.HealthSampleRecorded, service, instance: `${service}-1` };
  await store.append(
    healthStream(service),
    [
      encodeEvent(
        { type: 'HealthSampleRecorded', data: sample },
        { actor: 'failsafe:prober', occurredAt: new Date(), id: sampleId },
      ),
    ],
    'any',
  );
  const decision = { ...eventExamples.RollbackDecided, service, evidenceEventIds: [sampleId] };
  await store.append(
    serviceStream(service),
    [
      encodeEvent(
        { type: 'RollbackDecided', data: decision },
        { actor: 'failsafe:policy', occurredAt: new Date(), id: decisionId, causationId: sampleId },
      ),
    ],
    'any',
  );
  return decisionId;
}

export interface FrontDoor {
  readonly url: string;
  readonly mcpUrl: string;
  readonly dataDir: string;
  readonly tokens: Record<Person, string>;
  readonly decisionId: string;
  readonly log: string[];
  /** Stops serving and removes the data folder, unless `keepData` (the caller reads it, then removes it). */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

/**
 * `failsafe serve` in this process on a fresh data folder, on a free loopback port, with one
 * token per role and the given services seeded.
 */
export async function startFrontDoor(
  services: readonly string[],
  env: NodeJS.ProcessEnv = {},
  overrides: Partial<ServeConfig> = {},
): Promise<FrontDoor> {
  const dataDir = mkdtempSync(join(tmpdir(), 'failsafe-front-door-'));
  const store = SqliteEventStore.open({ path: join(dataDir, STORE_FILE) });
  let decisionId: string;
  try {
    for (const service of services) await seedService(store, service);
    decisionId = await seedDecision(store, 'legacy-api');
  } finally {
    await store.close();
  }
  const tokens = Object.fromEntries(Object.keys(PEOPLE).map((name) => [name, newToken()])) as Record<Person, string>;
  const config: ServeConfig = {
    ...loadServeConfig({ dataDir, port: '0' }, { ...env, FAILSAFE_ADMIN_TOKEN: tokens.admin }),
    tokens: Object.entries(PEOPLE)
      .filter(([name]) => name !== 'admin')
      .map(([name, role]) => ({ name, role, sha256: hashToken(tokens[name as Person]) })),
    drillsDir: fileURLToPath(new URL('../../drills', import.meta.url)),
    ...overrides,
  };
  const log: string[] = [];
  const plane = await startControlPlane(config, (line) => log.push(line));
  const stop = async ({ keepData = false } = {}) => {
    await plane.stop();
    if (!keepData) rmSync(dataDir, { recursive: true, force: true });
  };
  return { url: plane.url, mcpUrl: plane.mcpUrl, dataDir, tokens, decisionId, log, stop };
}

/** A stream of the store a running `serve` keeps in `dataDir`, read through a connection of its own. */
export async function readServedStream(dataDir: string, stream: string) {
  const store = SqliteEventStore.open({ path: join(dataDir, STORE_FILE) });
  try {
    return await collect(store.readStream(stream));
  } finally {
    await store.close();
  }
}
