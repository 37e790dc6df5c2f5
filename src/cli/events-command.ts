import { Command, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { InvalidEvent } from '../event-store/errors.js';
import type { ExpectedRevision, RecordedEvent } from '../event-store/event-store.js';
import { recordedEventToJson } from '../event-store/recorded-event-json.js';
import { encodeEvent, parseDomainEvent } from '../events/catalogue.js';
import { action, openStoreOf, positiveInteger, untilSignal, withStoreOptions } from './cli-support.js';
import { systemClock } from '../runtime/clock.js';

const count = positiveInteger('events');

const parseExpectedRevision = (value: string): ExpectedRevision => {
  if (value === 'any' || value === 'no_stream' || value === 'stream_exists') return value;
  if (/^\d+$/.test(value)) return BigInt(value);
  throw new InvalidArgumentError('use any, no_stream, stream_exists or a revision number');
};

const parsePosition = (value: string): bigint => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a position (a whole number)');
  return BigInt(value);
};

/** `data` is JSON text, `@file` for a file, or `-` for standard input. */
function readData(source: string): unknown {
  const text =
    source === '-' ? readFileSync(0, 'utf8') : source.startsWith('@') ? readFileSync(source.slice(1), 'utf8') : source;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidEvent([{ path: 'data', message: `is not valid JSON (${(error as Error).message})` }]);
  }
}

const formatEvent = (event: RecordedEvent, json: boolean): string =>
  json
    ? JSON.stringify(recordedEventToJson(event))
    : `${event.position}\t${event.stream}@${event.revision}\t${event.recordedAt.toISOString()}\t` +
      `${event.type}\t${JSON.stringify(event.data)}`;

const appendCommand = () =>
  withStoreOptions(new Command('append'))
    .description('validate an event against the catalogue and append it to a stream')
    .argument('<stream>', 'stream to append to, e.g. deployment-payments')
    .argument('<type>', 'event type from the catalogue, e.g. DeploymentRequested')
    .argument('<data>', 'event data: JSON text, @file, or - for standard input')
    .option(
      '--expected-revision <revision>',
      'any, no_stream, stream_exists or a revision number',
      parseExpectedRevision,
      'any',
    )
    .option('--actor <name>', 'who is acting (recorded in the event metadata)', `cli:${userInfo().username}`)
    .option('--id <uuid>', 'event id: repeat it to retry an append safely (default: a new UUID v7)')
    .option('--correlation-id <uuid>', 'correlation id (default: the event id)')
    .option('--causation-id <uuid>', 'id of the event that caused this one')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (stream: string, type: string, dataSource: string, flags) => {
        const event = encodeEvent(parseDomainEvent(type, readData(dataSource)), {
          actor: flags.actor,
          occurredAt: systemClock.now(),
          ...(flags.id && { id: flags.id }),
          ...(flags.correlationId && { correlationId: flags.correlationId }),
          ...(flags.causationId && { causationId: flags.causationId }),
        });
        const store = await openStoreOf(flags);
        try {
          const result = await store.append(stream, [event], flags.expectedRevision);
          const summary = {
            id: event.id,
            stream,
            revision: result.nextExpectedRevision.toString(),
            position: result.position.toString(),
          };
          process.stdout.write(
            flags.json
              ? `${JSON.stringify(summary)}\n`
              : `appended ${type} ${event.id} to ${stream} ` +
                  `at revision ${summary.revision} (position ${summary.position})\n`,
          );
        } finally {
          await store.close();
        }
      }),
    );

const readCommand = () =>
  withStoreOptions(new Command('read'))
    .description('print the events of one stream')
    .argument('<stream>', 'stream to read')
    .option('--backwards', 'newest first')
    .option('--from <revision>', 'first revision to print (inclusive)', parsePosition)
    .option('--limit <count>', 'print at most this many events', count)
    .option('--json', 'one JSON object a line')
    .action(
      action(async (stream: string, flags) => {
        const store = await openStoreOf(flags);
        try {
          for await (const event of store.readStream(stream, {
            direction: flags.backwards ? 'backwards' : 'forwards',
            ...(flags.from !== undefined && { fromRevision: flags.from }),
            ...(flags.limit !== undefined && { maxCount: flags.limit }),
          })) {
            process.stdout.write(`${formatEvent(event, Boolean(flags.json))}\n`);
          }
        } finally {
          await store.close();
        }
      }),
    );

const tailCommand = () =>
  withStoreOptions(new Command('tail'))
    .description('follow $all: print the last events, then new ones as they are appended (Ctrl-C stops)')
    .option('--after <position>', 'start strictly after this global position (a stored checkpoint)', parsePosition)
    .option('--from-start', 'start from the first event')
    .option('--last <count>', 'how many past events to show first', count, 10)
    .option('--count <count>', 'exit after printing this many events', count)
    .option('--json', 'one JSON object a line')
    .action(
      action(async (flags) => {
        const store = await openStoreOf(flags);
        let after: bigint = flags.after ?? 0n;
        if (flags.after === undefined && !flags.fromStart) {
          for await (const event of store.readAll({ direction: 'backwards', maxCount: flags.last }))
            after = event.position - 1n;
        }
        const subscription = store.subscribe({ after });
        void untilSignal().then(() => subscription.close());
        let printed = 0;
        try {
          for await (const event of subscription) {
            process.stdout.write(`${formatEvent(event, Boolean(flags.json))}\n`);
            printed += 1;
            if (printed === flags.count) break;
          }
        } finally {
          await subscription.close();
          await store.close();
        }
      }),
    );

export const eventsCommand = (): Command =>
  new Command('events')
    .description('append, read and follow events in the event store')
    .addCommand(appendCommand())
    .addCommand(readCommand())
    .addCommand(tailCommand());
