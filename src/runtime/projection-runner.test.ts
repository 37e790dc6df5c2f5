import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { MemoryEventStore } from '../event-store/memory-event-store.js';
import { encodeEvent } from '../events/catalogue.js';
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
});
