/**
 * A child process for the contract's multi-process cases, for any adapter: it opens the store a URL
 * names (`openStore`), prints "ready", then runs the commands it reads on stdin, one a line. It
 * prints to stdout (synchronous for pipes on Linux) only what the store acknowledged.
 *   flood <prefix>                     appends 3-event batches to streams <prefix>-0..4 until killed,
 *                                      printing "ack <id>,<id>,<id>" after each
 *   ticks <max-count>                  appends 3 Failsafe ClockTicked events a batch to the clock stream,
 *                                      trimmed by retention to <max-count> events, until killed, printing
 *                                      "ack <id>,<id>,<id>" after each (a history `audit verify` accepts)
 *   contend <stream> <worker> <count>  appends count events to <stream>, each with optimistic retries
 *                                      (expected revision), then prints "done"
 * When stdin ends it closes the store and exits 0; on any error it exits 1.
 */
import { createInterface } from 'node:readline';
import { v7 as uuidv7 } from 'uuid';
import { CLOCK_STREAM } from '../domain/streams.js';
import { encodeEvent } from '../events/catalogue.js';
import { WrongExpectedRevision } from './errors.js';
import type { EventStore } from './event-store.js';
import { openStore } from './open-store.js';

const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: store-append-worker.fixture.ts <store url>, then commands on stdin\n');
  process.exit(2);
}

async function flood(store: EventStore, prefix: string): Promise<never> {
  for (let batch = 0; ; batch += 1) {
    const ids = [uuidv7(), uuidv7(), uuidv7()];
    // Varying sizes, so that kills land at different points of a write.
    const payload = 'x'.repeat(200 + (batch % 7) * 300);
    await store.append(
      `${prefix}-${batch % 5}`,
      ids.map((id, part) => ({ id, type: 'Flooded', data: { batch: ids[0], part, payload } })),
      'any',
    );
    process.stdout.write(`ack ${ids.join(',')}\n`);
  }
}

async function ticks(store: EventStore, maxCount: number): Promise<never> {
  await store.setStreamMetadata(CLOCK_STREAM, { maxCount });
  for (;;) {
    const at = new Date();
    const events = [0, 1, 2].map(() =>
      encodeEvent({ type: 'ClockTicked', data: { at: at.toISOString() } }, { actor: 'failsafe:test', occurredAt: at }),
    );
    await store.append(CLOCK_STREAM, events, 'any');
    process.stdout.write(`ack ${events.map((e) => e.id).join(',')}\n`);
  }
}

async function contend(store: EventStore, stream: string, worker: number, count: number): Promise<void> {
  for (let n = 0; n < count; n += 1) {
    for (;;) {
      let expected: bigint | 'no_stream' = 'no_stream';
      for await (const last of store.readStream(stream, { direction: 'backwards', maxCount: 1 }))
        expected = last.revision;
      try {
        await store.append(stream, [{ id: uuidv7(), type: 'Counted', data: { worker, n } }], expected);
        break;
      } catch (error) {
        if (!(error instanceof WrongExpectedRevision)) throw error;
      }
    }
  }
  process.stdout.write('done\n');
}

try {
  const store = await openStore(url);
  process.stdout.write('ready\n');
  for await (const line of createInterface({ input: process.stdin })) {
    const [command, ...args] = line.trim().split(/\s+/);
    if (command === 'flood' && args[0]) await flood(store, args[0]);
    else if (command === 'ticks' && args[0]) await ticks(store, Number(args[0]));
    else if (command === 'contend' && args.length === 3)
      await contend(store, args[0]!, Number(args[1]), Number(args[2]));
    else throw new Error(`unknown command: ${line}`);
  }
  await store.close();
} catch (error) {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
}
