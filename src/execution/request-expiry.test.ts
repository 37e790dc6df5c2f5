import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { handleCommand } from '../application/command-handler.js';
import { serviceDecider, type ServiceCommand } from '../domain/service-decider.js';
import { collect } from '../event-store/event-store.contract.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { encodeEvent } from '../events/catalogue.js';
import { EXPIRY_ACTOR, RequestExpiry } from './request-expiry.js';
import { MemoryCheckpointStore } from '../runtime/memory-checkpoint-store.js';
import { CLOCK_STREAM, serviceStream } from '../domain/streams.js';

const t0 = new Date('2026-11-24T10:00:00.000Z');
const at = (minutes: number) => new Date(t0.getTime() + minutes * 60_000);

describe('request expiry (no executor running)', () => {
  let dir: string;
  let store: SqliteEventStore;
  let expiry: RequestExpiry;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-expiry-'));
    store = SqliteEventStore.open({ path: join(dir, 'events.db'), livePollIntervalMs: 20 });
    expiry = new RequestExpiry(store, new MemoryCheckpointStore(), { maxAgeMs: 15 * 60_000 });
    await expiry.start();
  });
  afterEach(async () => {
    await expiry.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const issue = (command: ServiceCommand) =>
    handleCommand(store, serviceStream('payments'), serviceDecider, command, { actor: 'alice', now: t0 });
  const tick = (minutes: number) =>
    store.append(
      CLOCK_STREAM,
      [
        encodeEvent(
          { type: 'ClockTicked', data: { at: at(minutes).toISOString() } },
          { actor: 'clock', occurredAt: at(minutes) },
        ),
      ],
      'any',
    );
  const stream = async () => collect(store.readStream(serviceStream('payments')));

  it('records the expiry at the first recorded tick past the maximum wait, once', async () => {
    await issue({ type: 'RegisterService', service: 'payments', source: 'api' });
    await issue({ type: 'RequestDeployment', service: 'payments', deploymentId: 'd-1', release: 'v1', now: t0 });
    await tick(14);
    await expiry.catchUp();
    expect((await stream()).map((e) => e.type)).toEqual(['ServiceRegistered', 'DeploymentRequested']);
    await tick(15);
    await tick(16);
    await expiry.catchUp();
    const events = await stream();
    expect(events.map((e) => e.type)).toEqual(['ServiceRegistered', 'DeploymentRequested', 'DeploymentExpired']);
    expect(events[2]).toMatchObject({
      data: { deploymentId: 'd-1', requestedAt: t0.toISOString(), expiredAt: at(15).toISOString(), maxAgeSeconds: 900 },
      metadata: { actor: EXPIRY_ACTOR, occurredAt: at(15).toISOString() },
    });
  });
});
