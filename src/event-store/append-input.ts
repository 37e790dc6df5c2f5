import type { ExpectedRevision, NewEvent, StreamMetadata } from './event-store.js';
import { InvalidEvent, WrongExpectedRevision, type FieldProblem } from './errors.js';

/** An event checked and serialised once, ready for any adapter to write. */
export interface SerializedEvent {
  readonly id: string;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_.:-]{0,199}$/;
const MAX_STREAM_NAME = 256;

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Stream names starting with `$` are reserved for the store (`$all`), as in EventStoreDB. */
export function streamNameProblem(stream: unknown): string | undefined {
  if (typeof stream !== 'string' || stream.length === 0) return 'must be a non-empty string';
  if (stream.length > MAX_STREAM_NAME) return `must be at most ${MAX_STREAM_NAME} characters`;
  if (stream.startsWith('$')) return 'must not start with "$" (reserved for system streams)';
  if (/[\u0000-\u001f]/.test(stream)) return 'must not contain control characters';
  return undefined;
}

export function assertStreamName(stream: unknown): asserts stream is string {
  const problem = streamNameProblem(stream);
  if (problem) throw new InvalidEvent([{ path: 'stream', message: problem }]);
}

export function assertExpectedRevision(expected: unknown): asserts expected is ExpectedRevision {
  const ok =
    expected === 'any' ||
    expected === 'no_stream' ||
    expected === 'stream_exists' ||
    (typeof expected === 'bigint' && expected >= 0n);
  if (!ok) {
    throw new InvalidEvent([
      { path: 'expectedRevision', message: 'must be "any", "no_stream", "stream_exists" or a revision >= 0' },
    ]);
  }
}

/** Refuses a writer whose expectation does not hold for a stream at `current` (-1n: it has no events). */
export function assertRevisionHolds(stream: string, expected: ExpectedRevision, current: bigint): void {
  const holds =
    expected === 'any' ||
    (expected === 'no_stream' && current === -1n) ||
    (expected === 'stream_exists' && current >= 0n) ||
    (typeof expected === 'bigint' && expected === current);
  if (!holds) throw new WrongExpectedRevision(stream, expected, current === -1n ? 'no_stream' : current);
}

export function assertStreamMetadata(metadata: StreamMetadata): void {
  const problems = (['maxAgeSeconds', 'maxCount'] as const)
    .filter((key) => metadata[key] !== undefined && !(Number.isInteger(metadata[key]) && metadata[key]! > 0))
    .map((key) => ({ path: `metadata.${key}`, message: 'must be a positive integer' }));
  if (problems.length > 0) throw new InvalidEvent(problems);
}

function serialize(value: unknown, path: string, problems: FieldProblem[]): string {
  if (!isPlainObject(value)) {
    problems.push({ path, message: 'must be a JSON object' });
    return '';
  }
  try {
    return JSON.stringify(value);
  } catch (error) {
    problems.push({ path, message: `is not serialisable as JSON (${(error as Error).message})` });
    return '';
  }
}

/**
 * Checks everything an adapter needs before it opens a transaction, so that a bad batch is
 * refused whole with every problem named, and nothing is written.
 */
export function prepareAppend(
  stream: unknown,
  events: readonly NewEvent[],
  expectedRevision: unknown,
): SerializedEvent[] {
  assertStreamName(stream);
  assertExpectedRevision(expectedRevision);
  if (!Array.isArray(events) || events.length === 0) {
    throw new InvalidEvent([{ path: 'events', message: 'must be a non-empty array' }]);
  }
  const problems: FieldProblem[] = [];
  const seen = new Set<string>();
  const prepared = events.map((event, index): SerializedEvent => {
    const at = `events[${index}]`;
    if (!isPlainObject(event)) {
      problems.push({ path: at, message: 'must be an object' });
      return { id: '', type: '', data: '', metadata: '' };
    }
    const { id, type } = event;
    if (typeof id !== 'string' || !UUID.test(id)) {
      problems.push({ path: `${at}.id`, message: 'must be a UUID' });
    } else if (seen.has(id.toLowerCase())) {
      problems.push({ path: `${at}.id`, message: `repeats id ${id} within the batch` });
    } else {
      seen.add(id.toLowerCase());
    }
    if (typeof type !== 'string' || !EVENT_TYPE.test(type)) {
      problems.push({
        path: `${at}.type`,
        message: 'must start with a letter and use only letters, digits, "_", ".", ":" or "-" (200 at most)',
      });
    }
    return {
      id: typeof id === 'string' ? id.toLowerCase() : '',
      type: String(type),
      data: serialize(event.data, `${at}.data`, problems),
      metadata: serialize(event.metadata ?? {}, `${at}.metadata`, problems),
    };
  });
  if (problems.length > 0) throw new InvalidEvent(problems);
  return prepared;
}
