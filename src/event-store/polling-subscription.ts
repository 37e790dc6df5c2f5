import { setImmediate as nextTurn } from 'node:timers/promises';
import type { RecordedEvent, Subscription } from './event-store.js';

export interface PollingSource {
  /** Delivery starts strictly after this position. */
  readonly after: bigint;
  /** The next events strictly after `position`, in order; empty when caught up. */
  readPage(position: bigint): RecordedEvent[] | Promise<RecordedEvent[]>;
  /** Resolves when new events may exist (or when `signal` aborts). */
  waitForAppend(signal: AbortSignal): Promise<void>;
  onClose(): void;
}

/** Events delivered between two turns of the event loop given to everything else. */
const EVENTS_PER_TURN = 1000;

/**
 * Catch-up then live, for stores read by position: always "read after the last delivered
 * position", so catching up and going live are the same loop and nothing is lost or repeated.
 * Every thousand events the event loop gets a turn, so a long catch-up shares the process.
 */
export function pollingSubscription(source: PollingSource): Subscription {
  const stop = new AbortController();
  let position = source.after;
  let sinceTurn = 0;

  async function* deliver(): AsyncGenerator<RecordedEvent> {
    try {
      while (!stop.signal.aborted) {
        const page = await source.readPage(position);
        if (page.length === 0) {
          await source.waitForAppend(stop.signal);
          continue;
        }
        for (const event of page) {
          if (stop.signal.aborted) return;
          position = event.position;
          yield event;
        }
        // A store read synchronously (SQLite) and a consumer that awaits nothing real would keep the
        // whole catch-up in one turn of the event loop: nothing else (HTTP, timers) ran until it ended.
        // Not after every page: a consumer that lags behind a burst of appends decides differently
        // (the telemetry watcher must see its own decision before the next events).
        sinceTurn += page.length;
        if (sinceTurn >= EVENTS_PER_TURN) {
          sinceTurn = 0;
          await nextTurn();
        }
      }
    } finally {
      stop.abort();
      source.onClose();
    }
  }

  const iterator = deliver();
  return {
    [Symbol.asyncIterator]: () => iterator,
    async close() {
      stop.abort();
      source.onClose();
    },
  };
}
