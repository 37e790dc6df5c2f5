// The client is imported here only to build the errors it throws, for the mapping's tests.
import {
  AccessDeniedError,
  StreamDeletedError,
  UnavailableError,
  UnknownError,
  WrongExpectedVersionError,
} from '@kurrent/kurrentdb-client';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DuplicateEventId, InvalidEvent, StreamDeleted, WrongExpectedRevision } from './errors.js';
import { collect, describeEventStoreContract, type EventStoreFixture } from './event-store.contract.js';
import {
  catchUpSubscription,
  EventStoreDBAccessDenied,
  EventStoreDBEventStore,
  EventStoreDBUnavailable,
  fromClientEvent,
  parseEventStoreUrl,
  retriedAppend,
  subscriptionStart,
  toStoreError,
} from './eventstoredb-event-store.js';
import type { RecordedEvent } from './event-store.js';
import { openStore } from './open-store.js';
import { SegmentArchive } from './segment-archive.js';
import { InvalidStoreUrl } from './store-url.js';
import { freePort } from '../drills/toxiproxy.js';
import { eventStoreForTests } from '../testing/test-servers.js';

describe('EventStoreDB adapter, without a server', () => {
  it('turns store URLs into the client’s kurrentdb:// connection strings, keeping the rest as written', () => {
    const client = (url: string) => parseEventStoreUrl(url).connectionString;
    expect(client('esdb://127.0.0.1:2113?tls=false')).toBe('kurrentdb://127.0.0.1:2113?tls=false');
    expect(client('ESDB+discover://admin:changeit@a:2113,b:2113')).toBe(
      'kurrentdb+discover://admin:changeit@a:2113,b:2113',
    );
    expect(client('kurrentdb://h:2113?tls=false&nodePreference=leader')).toBe(
      'kurrentdb://h:2113?tls=false&nodePreference=leader',
    );
    expect(parseEventStoreUrl('esdb://h:2113').streamPrefix).toBe('');
    expect(() => parseEventStoreUrl('postgres://h/db')).toThrow(InvalidStoreUrl);
  });

  it('takes the stream prefix from the URL, and keeps it from the client', () => {
    expect(parseEventStoreUrl('kurrentdb://h:2113?tls=false&streamPrefix=t1-&nodePreference=leader')).toEqual({
      connectionString: 'kurrentdb://h:2113?tls=false&nodePreference=leader',
      streamPrefix: 't1-',
    });
    expect(parseEventStoreUrl('esdb://h:2113?streamPrefix=fleet%2Fa%3A')).toEqual({
      connectionString: 'kurrentdb://h:2113',
      streamPrefix: 'fleet/a:',
    });
    expect(() => parseEventStoreUrl('esdb://h:2113?streamPrefix=%24system')).toThrow(
      /has a streamPrefix that must not start with "\$"/,
    );
  });

  it('subscribes from the start, the end, or strictly after a commit position', () => {
    expect(subscriptionStart(undefined)).toBe('start');
    expect(subscriptionStart(0n)).toBe('start');
    expect(subscriptionStart('end')).toBe('end');
    expect(subscriptionStart(1234n)).toEqual({ commit: 1234n, prepare: 1234n });
  });

  const claim = (stream: string, revision: bigint) => ({ stream, revision, position: 1000n + revision });

  it('takes ids claimed at consecutive revisions of the same stream as a retry, with its original result', () => {
    const ids = [randomUUID(), randomUUID()];
    expect(retriedAppend('svc', ids, [undefined, undefined], 'any')).toBeUndefined();
    expect(retriedAppend('svc', ids, [claim('svc', 4n), claim('svc', 5n)], 'any')).toEqual({
      nextExpectedRevision: 5n,
      position: 1005n,
    });
  });

  it('lets a retry racing its original through when the claims so far sit where its revision puts it', () => {
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    expect(retriedAppend('svc', ids, [claim('svc', 0n), undefined, undefined], 'no_stream')).toBeUndefined();
    expect(retriedAppend('svc', ids, [undefined, claim('svc', 5n), undefined], 3n)).toBeUndefined();
    expect(() => retriedAppend('svc', ids, [claim('svc', 0n), undefined, undefined], 'any')).toThrow(
      /other events differ/,
    );
    expect(() => retriedAppend('svc', ids, [claim('svc', 4n), undefined, undefined], 'no_stream')).toThrow(
      DuplicateEventId,
    );
  });

  it('refuses ids claimed elsewhere, or by an append whose other events differ', () => {
    const ids = [randomUUID(), randomUUID()];
    expect(() => retriedAppend('svc-b', ids, [undefined, claim('svc-a', 0n)], 'any')).toThrow(DuplicateEventId);
    expect(() => retriedAppend('svc-b', ids, [undefined, claim('svc-a', 0n)], 'any')).toThrow(
      /already stored in stream "svc-a" at revision 0/,
    );
    expect(() => retriedAppend('svc', ids, [claim('svc', 0n), claim('svc', 7n)], 0n)).toThrow(DuplicateEventId);
  });

  const where = 'kurrentdb://h:2113';

  it('maps the client’s errors to the port’s, keeping our expected revision over the echoed one', () => {
    const wrong = new WrongExpectedVersionError(undefined, { streamName: 'p-svc', expected: 'any', current: 3n });
    const mapped = toStoreError(wrong, { where, stream: 'svc', expected: 'no_stream' });
    expect(mapped).toBeInstanceOf(WrongExpectedRevision);
    expect(mapped).toMatchObject({ stream: 'svc', expected: 'no_stream', actual: 3n });
    const missing = new WrongExpectedVersionError(undefined, {
      streamName: 's',
      expected: 'stream_exists',
      current: 'no_stream',
    });
    expect(toStoreError(missing, { where })).toMatchObject({ expected: 'stream_exists', actual: 'no_stream' });
    expect(toStoreError(StreamDeletedError.fromStreamName('p-svc'), { where, stream: 'svc' })).toEqual(
      new StreamDeleted('svc'),
    );
  });

  it('says what to do when the server is down or refuses the user, and passes other errors on', () => {
    const down = toStoreError(new UnavailableError(), { where });
    expect(down).toBeInstanceOf(EventStoreDBUnavailable);
    expect((down as Error).message).toMatch(/kurrentdb:\/\/h:2113 did not serve.*\?tls=false/);
    expect(toStoreError(new AccessDeniedError(), { where })).toBeInstanceOf(EventStoreDBAccessDenied);
    const unknown = new UnknownError();
    expect(toStoreError(unknown, { where })).toBe(unknown);
    const ours = new InvalidEvent([]);
    expect(toStoreError(ours, { where })).toBe(ours);
  });

  const clientEvent = (data: unknown, metadata: unknown) => ({
    streamId: 'svc',
    id: 'AAAAAAAA-0000-4000-8000-000000000001',
    isJson: true as const,
    revision: 2n,
    type: 'Sampled',
    created: new Date('2026-12-01T00:00:00Z'),
    data,
    metadata,
    position: { commit: 4096n, prepare: 4096n },
  });

  it('reads a recorded event as the port’s, with the commit position and lower-case id', () => {
    const event = fromClientEvent(clientEvent({ n: 1 }, Buffer.from('{"actor":"alice"}')) as never);
    expect(event).toEqual({
      id: 'aaaaaaaa-0000-4000-8000-000000000001',
      stream: 'svc',
      revision: 2n,
      position: 4096n,
      type: 'Sampled',
      data: { n: 1 },
      metadata: { actor: 'alice' },
      recordedAt: new Date('2026-12-01T00:00:00Z'),
    });
    expect(fromClientEvent(clientEvent({}, undefined) as never).metadata).toEqual({});
    expect(() => fromClientEvent(clientEvent([1, 2], undefined) as never)).toThrow(/not a JSON object/);
    const old = { ...clientEvent({}, undefined), position: { commit: 2n ** 64n - 1n, prepare: 2n ** 64n - 1n } };
    expect(() => fromClientEvent(old as never)).toThrow(/positions on stream reads \(22.6 or later\)/);
  });

  const recorded = (n: number): RecordedEvent => ({
    id: randomUUID(),
    stream: 'svc',
    revision: BigInt(n),
    position: BigInt(n),
    type: 'Sampled',
    data: {},
    metadata: {},
    recordedAt: new Date(0),
  });

  it('ends a subscription’s iteration when closed while it waits, and releases the client’s once', async () => {
    let releases = 0;
    async function* source(): AsyncGenerator<RecordedEvent> {
      yield recorded(1);
      yield recorded(2);
      await new Promise(() => {});
    }
    const subscription = catchUpSubscription(
      source(),
      (event) => (event.revision === 2n ? undefined : event),
      async () => {
        releases += 1;
      },
    );
    const consumed = collect(subscription);
    await new Promise((resolve) => setImmediate(resolve));
    await subscription.close();
    expect((await consumed).map((e) => e.revision)).toEqual([1n]);
    await subscription.close();
    expect(releases).toBe(1);
  });

  it('refuses a URL where no server answers at open, saying what to check', async () => {
    const url = `esdb://127.0.0.1:${await freePort()}?tls=false`;
    const error = await EventStoreDBEventStore.open({ url }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventStoreDBUnavailable);
    expect((error as Error).message).toContain(`${url} did not serve the request`);
  });

  it('is the adapter openStore picks for esdb:// and kurrentdb:// URLs', async () => {
    const port = await freePort();
    await expect(openStore(`esdb://127.0.0.1:${port}?tls=false`)).rejects.toBeInstanceOf(EventStoreDBUnavailable);
    await expect(openStore(`kurrentdb://127.0.0.1:${port}?tls=false`)).rejects.toThrow(/kurrentdb:\/\/127/);
  });
});

const server = await eventStoreForTests();

/** Each test gets a store of its own on the one server: a fresh stream prefix. */
const fixture = async (): Promise<EventStoreFixture> => {
  if ('skipped' in server) throw new Error(server.skipped);
  const dir = mkdtempSync(join(tmpdir(), 'failsafe-esdb-'));
  const url = `${server.url}${server.url.includes('?') ? '&' : '?'}streamPrefix=t${randomUUID()}-`;
  const store = await EventStoreDBEventStore.open({ url });
  return {
    store,
    url,
    // The adapter never writes it: EventStoreDB trims without archiving (see the README).
    archive: new SegmentArchive(join(dir, 'archive')),
    dispose: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

if ('skipped' in server) {
  // Skipped even in CI: no EventStoreDB can run on these machines. Every case is listed, by name.
  describe.skip(`event store contract: EventStoreDB — skipped: ${server.skipped}`, () => {
    describeEventStoreContract('EventStoreDB', fixture);
  });
} else {
  afterAll(() => server.stop());
  describeEventStoreContract('EventStoreDB', fixture);
}
