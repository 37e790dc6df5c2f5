import { v5 as uuidv5 } from 'uuid';
import type { EventStore } from '../event-store/event-store.js';
import { encodeEvent } from '../events/catalogue.js';
import { systemClock, type Clock } from './clock.js';
import { CLOCK_STREAM } from '../domain/streams.js';

const TICK_NAMESPACE = '8c0f3b1a-2d4e-5f60-9a7b-1c2d3e4f5a6b';

/**
 * Records the passage of time, so rules like "stalled for 1 h" fire from history rather than the
 * wall clock. Ticks land on interval boundaries with ids derived from them: several Failsafe
 * processes ticking the same store record each tick once.
 */
export class ClockTicker {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly intervalMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  async start(): Promise<void> {
    await this.store.setStreamMetadata(CLOCK_STREAM, { maxCount: 10_000 });
    await this.tick();
    this.timer = setInterval(() => void this.tick().catch(() => undefined), this.intervalMs);
  }

  async tick(): Promise<void> {
    const slot = Math.floor(this.clock.now().getTime() / this.intervalMs) * this.intervalMs;
    const at = new Date(slot).toISOString();
    const event = encodeEvent(
      { type: 'ClockTicked', data: { at } },
      { id: uuidv5(at, TICK_NAMESPACE), actor: 'failsafe:clock', occurredAt: new Date(slot) },
    );
    await this.store.append(CLOCK_STREAM, [event], 'any');
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
