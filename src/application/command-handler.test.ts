import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect } from '../event-store/event-store.contract.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { InvariantViolated } from '../domain/decider.js';
import { serviceDecider } from '../domain/service-decider.js';
import { handleCommand } from './command-handler.js';
import { serviceStream } from '../domain/streams.js';

const now = new Date('2026-11-24T10:00:00.000Z');
const context = { actor: 'alice', now };

describe('command handler', () => {
  let dir: string;
  let store: SqliteEventStore;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-commands-'));
    store = SqliteEventStore.open({ path: join(dir, 'events.db') });
    await handleCommand(
      store,
      serviceStream('payments'),
      serviceDecider,
      { type: 'RegisterService', service: 'payments', source: 'api' },
      context,
    );
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('appends what the decider decides, with the actor and time of the command', async () => {
    const outcome = await handleCommand(
      store,
      serviceStream('payments'),
      serviceDecider,
      { type: 'RequestDeployment', service: 'payments', deploymentId: 'd-1', release: 'v1', now },
      context,
    );
    expect(outcome.appended?.nextExpectedRevision).toBe(1n);
    expect(outcome.state.deployment).toEqual({
      id: 'd-1',
      release: 'v1',
      status: 'requested',
      requestedAt: now.toISOString(),
    });
    const [, stored] = await collect(store.readStream('service-payments'));
    expect(stored).toMatchObject({
      type: 'DeploymentRequested',
      metadata: { actor: 'alice', occurredAt: now.toISOString(), schemaVersion: 1 },
    });
  });

  it('writes nothing when the command breaks an invariant', async () => {
    await handleCommand(
      store,
      'service-payments',
      serviceDecider,
      { type: 'RequestDeployment', service: 'payments', deploymentId: 'd-1', release: 'v1', now },
      context,
    );
    await expect(
      handleCommand(
        store,
        'service-payments',
        serviceDecider,
        { type: 'RequestDeployment', service: 'payments', deploymentId: 'd-2', release: 'v2', now },
        context,
      ),
    ).rejects.toBeInstanceOf(InvariantViolated);
    expect(await store.headPosition()).toBe(2n);
  });

  it('decides again on fresh state when racing, so only one of two conflicting commands wins', async () => {
    const results = await Promise.allSettled(
      ['d-1', 'd-2'].map((deploymentId) =>
        handleCommand(
          store,
          'service-payments',
          serviceDecider,
          { type: 'RequestDeployment', service: 'payments', deploymentId, release: deploymentId, now },
          context,
        ),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toMatchObject({ invariant: 'one-deployment-at-a-time' });
    expect(await collect(store.readStream('service-payments'))).toHaveLength(2);
  });

  it('makes a command with deterministic event ids idempotent', async () => {
    const command = {
      type: 'DisableFeature',
      service: 'payments',
      scope: 'tool',
      target: 'refund',
      reason: 'breaker',
    } as const;
    const ids = ['0195f2a4-8c1e-7d3a-9b2f-5e6d7c8b9a11'];
    await handleCommand(store, 'service-payments', serviceDecider, command, { ...context, eventIds: ids });
    const again = await handleCommand(store, 'service-payments', serviceDecider, command, {
      ...context,
      eventIds: ids,
    });
    expect(again.events).toEqual([]);
    expect(await collect(store.readStream('service-payments'))).toHaveLength(2);
  });
});
