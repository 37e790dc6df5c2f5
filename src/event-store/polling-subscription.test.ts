import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from './event-store.js';
import { pollingSubscription } from './polling-subscription.js';

const PAGES = 50;
const PAGE = 100;

/** A source read synchronously, as SQLite is: `PAGES` full pages, then nothing until closed. */
function synchronousSource() {
  const event = (position: number): RecordedEvent => ({
    position: BigInt(position),
    id: `e-${position}`,
    stream: 'clock',
    revision: BigInt(position - 1),
    type: 'ClockTicked',
    data: {},
    metadata: {},
    recordedAt: new Date(0),
  });
  return {
    after: 0n,
    readPage: (after: bigint) =>
      Array.from({ length: Math.max(0, Math.min(PAGE, PAGES * PAGE - Number(after))) }, (_, i) =>
        event(Number(after) + i + 1),
      ),
    waitForAppend: (signal: AbortSignal) =>
      new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })),
    onClose: () => {},
  };
}

describe('a polling subscription', () => {
  it('lets the event loop run every thousand events while it catches up on a store read synchronously', async () => {
    const subscription = pollingSubscription(synchronousSource());
    let delivered = 0;
    let deliveredWhenTimerRan: number | undefined;
    setImmediate(() => {
      deliveredWhenTimerRan = delivered;
    });
    for await (const _ of subscription) {
      delivered += 1;
      if (delivered === PAGES * PAGE) break;
    }
    // Without a turn the callback would run only once the whole history was delivered.
    expect(deliveredWhenTimerRan).toBeDefined();
    expect(deliveredWhenTimerRan!).toBeLessThanOrEqual(1000);
    await subscription.close();
  });
});
