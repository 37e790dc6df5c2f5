import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FleetConfig } from '../config/fleet-config.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { collect } from '../event-store/event-store.contract.js';
import { encodeEvent, type DomainEvent } from '../events/catalogue.js';
import { DrillScheduler, type RunContext } from './drill-scheduler.js';

const drillFile = (schedule: string) => `drill: nightly
description: a drill for the scheduler
target: { service: sample, release: v1.0.0 }
load: { script: loadtests/load.js }
faults: [{ name: bad, kind: release, release: v2 }]
expectations: [{ expect: healthy_after }]
schedule: "${schedule}"
`;

let store: SqliteEventStore;
let root: string;
let drillsDir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'failsafe-scheduler-'));
  drillsDir = join(root, 'drills');
  mkdirSync(drillsDir);
  mkdirSync(join(root, 'loadtests'));
  writeFileSync(join(root, 'loadtests', 'load.js'), '');
  writeFileSync(join(drillsDir, 'nightly.yaml'), drillFile('0 3 * * *'));
  store = SqliteEventStore.open({ path: join(root, 'failsafe.db') });
});
afterEach(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

/** A scheduler on a clock the test moves, recording the runs it starts (each lasting until `until`). */
function scheduler(clock: { now: Date }, runs: RunContext[], until?: (lost: AbortSignal) => Promise<void>) {
  return new DrillScheduler({
    store,
    drillsDir,
    clock: { now: () => clock.now },
    log: () => {},
    checkEveryMs: 3_600_000,
    leaseMs: 60_000,
    renewEveryMs: 20,
    run: async (_drill, context, lost) => {
      runs.push(context);
      await until?.(lost);
    },
  });
}

const record = (stream: string, ...events: DomainEvent[]) =>
  store.append(
    stream,
    events.map((event) => encodeEvent(event, { actor: 'test', occurredAt: new Date() })),
    'any',
  );
const types = async (stream: string) => (await collect(store.readStream(stream))).map((e) => e.type);
const slot = '2026-11-25T03:00:00.000Z';
/** nightly's schedule, and its 03:00 slot claimed by a Failsafe whose lease ran out at 03:02. */
const claimedByTheDead = () =>
  record(
    'drill-schedule-nightly',
    { type: 'DrillScheduleSet', data: { drill: 'nightly', cron: '0 3 * * *', since: '2026-11-24T00:00:00.000Z' } },
    {
      type: 'DrillSlotClaimed',
      data: { drill: 'nightly', slot, runId: 'run-dead', leaseUntil: '2026-11-25T03:02:00.000Z' },
    },
  );
const startedByTheDead = () =>
  record('drill-run-dead', {
    type: 'DrillStarted',
    data: { runId: 'run-dead', drill: 'nightly', trigger: 'schedule', scheduledFor: slot },
  });

describe('the drill scheduler', () => {
  it('runs nothing for slots from before its schedule existed', async () => {
    const runs: RunContext[] = [];
    const s = scheduler({ now: new Date('2026-11-24T10:00:00Z') }, runs);
    await s.start();
    await s.stop();
    expect(runs).toEqual([]);
  });

  it('runs each slot exactly once across several Failsafe processes, and catches up a missed one', async () => {
    const clock = { now: new Date('2026-11-24T10:00:00Z') };
    const runs: RunContext[] = [];
    const [a, b] = [scheduler(clock, runs), scheduler(clock, runs)];
    await a.tick();
    // Nobody ran at 03:00 on the 25th (Failsafe was down): at noon, the missed slot is due.
    clock.now = new Date('2026-11-25T12:00:00Z');
    await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()]);
    await Promise.all([a.stop(), b.stop()]);
    expect(runs).toEqual([
      { runId: expect.stringMatching(/^run-/), trigger: 'schedule', scheduledFor: '2026-11-25T03:00:00.000Z' },
    ]);
    clock.now = new Date('2026-11-26T03:00:30Z');
    await b.tick();
    await b.stop();
    expect(runs.map((r) => r.scheduledFor)).toEqual(['2026-11-25T03:00:00.000Z', '2026-11-26T03:00:00.000Z']);
  });

  it("goes on with the other drills when one drill's schedule cannot be written, and says why", async () => {
    writeFileSync(join(drillsDir, 'weekly.yaml'), drillFile('0 3 * * 1').replace('drill: nightly', 'drill: weekly'));
    await record('drill-schedule-nightly', {
      type: 'DrillScheduleSet',
      data: { drill: 'nightly', cron: '0 3 * * *', since: '2026-11-24T00:00:00.000Z' },
    });
    await store.deleteStream('drill-schedule-nightly', 0n);
    const lines: string[] = [];
    const s = new DrillScheduler({ store, drillsDir, log: (line) => lines.push(line), run: async () => {} });
    await s.tick();
    await s.stop();
    expect(lines).toEqual([
      expect.stringMatching(/^drill scheduler: nightly: .*deleted.*trying again at the next check/),
    ]);
    expect(await types('drill-schedule-weekly')).toEqual(['DrillScheduleSet']);
  });

  it('schedules the drills the fleet can run, and says once why another is not scheduled', async () => {
    const releasesDir = join(drillsDir, '..', 'releases');
    for (const release of ['v1.0.0', 'v2']) {
      mkdirSync(join(releasesDir, release), { recursive: true });
      writeFileSync(join(releasesDir, release, 'release.yaml'), '');
    }
    writeFileSync(
      join(drillsDir, 'weekly.yaml'),
      drillFile('0 3 * * 1').replace('drill: nightly', 'drill: weekly').replace('release: v2', 'release: v9'),
    );
    const fleet = { services: { sample: { driver: 'process', releasesDir, port: 1 } } } as unknown as FleetConfig;
    const lines: string[] = [];
    const s = new DrillScheduler({ store, drillsDir, fleet, log: (line) => lines.push(line), run: async () => {} });
    await s.tick();
    await s.tick();
    await s.stop();
    expect(lines).toEqual([
      expect.stringMatching(/^drill scheduler: not scheduled: InvalidDrillFile: .*weekly\.yaml.*no release "v9"/s),
    ]);
    expect(await types('drill-schedule-nightly')).toEqual(['DrillScheduleSet']);
    expect(await types('drill-schedule-weekly')).toEqual([]);
  });

  it('runs a drill asked for through the API once, and not again after a restart', async () => {
    const request = encodeEvent(
      { type: 'DrillRequested', data: { runId: 'run-42', drill: 'nightly', requestedBy: 'alice' } },
      { actor: 'alice', occurredAt: new Date() },
    );
    await store.append('drill-run-42', [request], 'no_stream');
    const runs: RunContext[] = [];
    const first = scheduler({ now: new Date('2026-11-24T10:00:00Z') }, runs);
    await first.start();
    await expect.poll(() => runs.length).toBe(1);
    expect(runs[0]).toEqual({ runId: 'run-42', trigger: 'manual', requested: true });
    await first.stop();
    // The run started (as the runner records it), then Failsafe restarted.
    await store.append(
      'drill-run-42',
      [
        encodeEvent(
          { type: 'DrillStarted', data: { runId: 'run-42', drill: 'nightly', trigger: 'manual' } },
          { actor: 'drill', occurredAt: new Date() },
        ),
      ],
      0n,
    );
    const again = scheduler({ now: new Date('2026-11-24T10:00:00Z') }, runs);
    await again.start();
    await sleep(300);
    await again.stop();
    expect(runs).toHaveLength(1);
  });

  it('takes over, once, a slot whose Failsafe died holding it, and ends the dead run as aborted', async () => {
    await claimedByTheDead();
    await startedByTheDead();
    const clock = { now: new Date('2026-11-25T03:05:00Z') };
    const runs: RunContext[] = [];
    const [a, b] = [scheduler(clock, runs), scheduler(clock, runs)];
    await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()]);
    await Promise.all([a.stop(), b.stop()]);
    expect(runs).toEqual([{ runId: expect.stringMatching(/^run-/), trigger: 'schedule', scheduledFor: slot }]);
    expect(runs[0]!.runId).not.toBe('run-dead');
    const dead = await collect(store.readStream('drill-run-dead'));
    expect(dead.map((e) => [e.type, e.data])).toEqual([
      ['DrillStarted', expect.anything()],
      ['DrillFinished', { runId: 'run-dead', outcome: 'aborted', abortReason: expect.any(String) }],
    ]);
    expect((dead[1]!.data as { abortReason: string }).abortReason).toMatch(
      /stopped renewing the claim of nightly's slot/,
    );
    const schedule = await collect(store.readStream('drill-schedule-nightly'));
    expect(schedule.filter((e) => e.type === 'DrillSlotTakenOver').map((e) => e.data)).toEqual([
      expect.objectContaining({ slot, from: 'run-dead', runId: runs[0]!.runId }),
    ]);
    expect(schedule.at(-1)).toMatchObject({ type: 'DrillSlotRunEnded', data: { runId: runs[0]!.runId } });
  });

  it('runs a slot again whose dead run was closed as aborted before the takeover', async () => {
    await claimedByTheDead();
    await startedByTheDead();
    await record('drill-run-dead', { type: 'DrillFinished', data: { runId: 'run-dead', outcome: 'aborted' } });
    const runs: RunContext[] = [];
    const s = scheduler({ now: new Date('2026-11-25T03:05:00Z') }, runs);
    await s.tick();
    await s.stop();
    expect(runs.map((r) => r.scheduledFor)).toEqual([slot]);
    expect(await types('drill-run-dead')).toEqual(['DrillStarted', 'DrillFinished']);
  });

  it('does not run a slot again whose run had reached its verdict when its Failsafe died', async () => {
    await claimedByTheDead();
    await startedByTheDead();
    await record('drill-run-dead', { type: 'DrillFinished', data: { runId: 'run-dead', outcome: 'passed' } });
    const runs: RunContext[] = [];
    const s = scheduler({ now: new Date('2026-11-25T03:05:00Z') }, runs);
    await s.tick();
    await s.stop();
    expect(runs).toEqual([]);
    expect(await types('drill-run-dead')).toEqual(['DrillStarted', 'DrillFinished']);
    expect((await types('drill-schedule-nightly')).at(-1)).toBe('DrillSlotRunEnded');
  });

  it("keeps a running drill's claim alive by renewing its lease, so that no other Failsafe takes it over", async () => {
    const clock = { now: new Date('2026-11-24T10:00:00Z') };
    const runs: RunContext[] = [];
    let finish = () => {};
    const running = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const [a, b] = [scheduler(clock, runs, () => running), scheduler(clock, runs)];
    await a.tick();
    clock.now = new Date('2026-11-25T03:00:30Z');
    await a.tick();
    await expect.poll(() => runs.length).toBe(1);
    // Ten minutes on, the claim's first lease (one minute) is long gone; the renewals are not.
    clock.now = new Date('2026-11-25T03:10:00Z');
    const renewedPast = async () =>
      (await collect(store.readStream('drill-schedule-nightly'))).some(
        (e) => e.type === 'DrillSlotLeaseRenewed' && (e.data as { leaseUntil: string }).leaseUntil > '2026-11-25T03:10',
      );
    await expect.poll(renewedPast).toBe(true);
    await b.tick();
    finish();
    await a.stop();
    clock.now = new Date('2026-11-25T03:30:00Z');
    await b.tick();
    await b.stop();
    expect(runs.map((r) => r.scheduledFor)).toEqual([slot]);
    expect((await types('drill-schedule-nightly')).at(-1)).toBe('DrillSlotRunEnded');
  });

  it('stops a running drill whose slot another Failsafe took over', async () => {
    const clock = { now: new Date('2026-11-24T10:00:00Z') };
    const runs: RunContext[] = [];
    let reason: unknown;
    const stopped = (lost: AbortSignal) =>
      new Promise<void>((resolve) =>
        lost.addEventListener('abort', () => {
          reason = lost.reason;
          resolve();
        }),
      );
    const a = scheduler(clock, runs, stopped);
    await a.tick();
    clock.now = new Date('2026-11-25T03:00:30Z');
    await a.tick();
    await expect.poll(() => runs.length).toBe(1);
    // As if this Failsafe had stalled past its lease and another took the slot over.
    await record('drill-schedule-nightly', {
      type: 'DrillSlotTakenOver',
      data: {
        drill: 'nightly',
        slot,
        runId: 'run-other',
        from: runs[0]!.runId,
        leaseUntil: '2026-11-25T03:10:00.000Z',
      },
    });
    await expect.poll(() => reason).toBeInstanceOf(Error);
    expect(String(reason)).toMatch(/lease-lost.*run run-other took it over/);
    await a.stop();
    expect((await types('drill-schedule-nightly')).at(-1)).toBe('DrillSlotTakenOver');
  });
});
