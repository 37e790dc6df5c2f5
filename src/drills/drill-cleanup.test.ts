import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { handleCommand } from '../application/command-handler.js';
import { serviceDecider } from '../domain/service-decider.js';
import { collect } from '../event-store/event-store.contract.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { eventExamples } from '../events/event-examples.fixture.js';
import { resolveOwnDecisions } from './drill-cleanup.js';
import { loadDrill } from './drill-file.js';
import { DrillRun } from './drill-run.js';
import { ToxiproxyControl } from './toxiproxy.js';
import { serviceStream } from '../domain/streams.js';

const drillFile = fileURLToPath(new URL('../../drills/dependency-latency.yaml', import.meta.url));
let dir: string;
let store: SqliteEventStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'failsafe-drill-cleanup-'));
  store = SqliteEventStore.open({ path: join(dir, 'events.db') });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The policy's manual decision on the drill's target, awaiting approval. */
const decideManual = async (rollbackId: string) => {
  const context = { actor: 'failsafe:policy', now: new Date() };
  const registration = { ...eventExamples.ServiceRegistered, service: 'sample' };
  await handleCommand(
    store,
    serviceStream('sample'),
    serviceDecider,
    { type: 'RegisterService', ...registration },
    context,
  );
  await handleCommand(
    store,
    serviceStream('sample'),
    serviceDecider,
    {
      type: 'DecideRollback',
      ...eventExamples.RollbackDecided,
      service: 'sample',
      rollbackId,
      mode: 'manual',
      rule: 'performance_degradation',
      targetRelease: 'v1.0.0',
    },
    context,
  );
};

const drillRun = () =>
  new DrillRun(
    loadDrill(drillFile),
    {
      store,
      toxiproxy: new ToxiproxyControl('http://127.0.0.1:9'),
      targetAddress: 'http://127.0.0.1:9',
      log: () => {},
    },
    'run-cleanup',
    () => Date.now(),
  );

describe("a drill's cleanup and the decisions it caused", () => {
  it('rejects its own manual decision awaiting approval, naming the run: it blocks nothing after', async () => {
    await decideManual('rb-own');
    const run = drillRun();
    run.seen = { ...run.seen, faultAt: 1, ownDecisions: ['rb-own'] };
    await resolveOwnDecisions(run);
    const state = await run.target.state();
    expect(state.rollback).toMatchObject({ id: 'rb-own', status: 'rejected' });
    const rejected = (await collect(store.readStream(serviceStream('sample')))).find(
      (e) => e.type === 'RollbackRejected',
    );
    expect(rejected?.data).toMatchObject({
      rollbackId: 'rb-own',
      rejectedBy: 'drill:run-cleanup',
      reason: expect.stringMatching(/^drill dependency-latency \(run-cleanup\) ended/),
    });
  });

  it('leaves a decision that is not its own (made before its faults) to the people it awaits', async () => {
    await decideManual('rb-before');
    const run = drillRun();
    run.seen = { ...run.seen, faultAt: 1, ownDecisions: ['rb-other'] };
    await resolveOwnDecisions(run);
    expect((await run.target.state()).rollback).toMatchObject({ id: 'rb-before', status: 'awaiting_approval' });
  });
});
