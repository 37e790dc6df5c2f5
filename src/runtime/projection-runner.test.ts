import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { MemoryEventStore } from '../event-store/memory-event-store.js';
import { encodeEvent } from '../events/catalogue.js';
import type { Checkpoint } from './checkpoint-store.js';
import { MemoryCheckpointStore } from './memory-checkpoint-store.js';
import type { Projection } from './projection.js';
import { ProjectionRunner } from './projection-runner.js';

const counting: Projection<{ events: number }> = {
  name: 'counting',
  version: 1,
  initialState: { events: 0 },
  apply: (state) => ({ events: state.events + 1 }),
};

describe('a projection runner', () => {
  it('catches up only once a process manager has acted on the last event, however long that takes', async () => {
    const store = new MemoryEventStore();
    const acted: string[] = [];
    const runner = new ProjectionRunner(store, counting, new MemoryCheckpointStore(), {
      // Longer than the runner's own wait between checks: catching up must not see the event as done before this.
      afterApply: async (_, event) => {
        await sleep(600);
        acted.push(event.id);
      },
    });
    await runner.start();
    const tick = encodeEvent(
      { type: 'ClockTicked', data: { at: '2026-11-24T10:00:00.000Z' } },
      {
        actor: 't',
        occurredAt: new Date('2026-11-24T10:00:00.000Z'),
      },
    );
    await store.append('clock', [tick], 'any');
    await runner.catchUp();
    expect(acted).toEqual([tick.id]);
    await runner.stop();
  });

  describe('saving checkpoints', () => {
    /** A clock of the test's own: each event folded takes `applyMs`, each save `saveMs`. */
    async function saves(applyMs: number, saveMs: number, events: number) {
      let now = 0;
      const saved: bigint[] = [];
      const checkpoints = new (class extends MemoryCheckpointStore {
        override async save(name: string, checkpoint: Checkpoint) {
          now += saveMs;
          saved.push(checkpoint.position);
          await super.save(name, checkpoint);
        }
      })();
      const timed: Projection<{ events: number }> = {
        ...counting,
        apply: (state) => {
          now += applyMs;
          return counting.apply(state, undefined as never);
        },
      };
      const store = new MemoryEventStore();
      const tick = { type: 'ClockTicked', data: { at: '2026-11-24T10:00:00.000Z' } } as const;
      const meta = { actor: 't', occurredAt: new Date('2026-11-24T10:00:00.000Z') };
      await store.append(
        'clock',
        Array.from({ length: events }, () => encodeEvent(tick, meta)),
        'any',
      );
      const runner = new ProjectionRunner(store, timed, checkpoints, { checkpointEvery: 10, elapsedMs: () => now });
      await runner.start();
      await runner.catchUp();
      await runner.stop();
      return { saved };
    }

    it('saves every checkpointEvery events while saving is cheap', async () => {
      const { saved } = await saves(1, 0, 100);
      expect(saved).toEqual([10n, 20n, 30n, 40n, 50n, 60n, 70n, 80n, 90n, 100n, 100n]);
    });

    it('saves a slow-to-save state less often: a save leaves nine times its length before the next', async () => {
      // Every 10 events, a 100 ms save after 10 ms of folding would be 91 % of the time.
      const { saved } = await saves(1, 100, 3000);
      const whileCatchingUp = saved.slice(0, -1);
      const gaps = whileCatchingUp.slice(1).map((position, i) => Number(position - whileCatchingUp[i]!));
      expect(gaps.length).toBeGreaterThanOrEqual(2);
      for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(900);
      expect(saved.at(-1)).toBe(3000n);
    });
  });
});
