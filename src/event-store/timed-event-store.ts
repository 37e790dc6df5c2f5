import type {
  AppendOptions,
  AppendResult,
  EventStore,
  ExpectedRevision,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  StreamMetadata,
  SubscribeOptions,
} from './event-store.js';

/**
 * An event store that reports how long each append took (outcome "ok" or the error's name), for
 * the append-latency histogram; everything else passes straight through.
 */
export class TimedEventStore implements EventStore {
  constructor(
    private readonly inner: EventStore,
    private readonly observe: (seconds: number, outcome: string) => void,
  ) {}

  async append(
    stream: string,
    events: readonly NewEvent[],
    expectedRevision: ExpectedRevision,
    options?: AppendOptions,
  ): Promise<AppendResult> {
    const started = process.hrtime.bigint();
    let outcome = 'ok';
    try {
      return await this.inner.append(stream, events, expectedRevision, options);
    } catch (error) {
      outcome = (error as Error).name;
      throw error;
    } finally {
      this.observe(Number(process.hrtime.bigint() - started) / 1e9, outcome);
    }
  }

  readStream(stream: string, options?: ReadStreamOptions) {
    return this.inner.readStream(stream, options);
  }
  readAll(options?: ReadAllOptions) {
    return this.inner.readAll(options);
  }
  readEvent(id: string) {
    return this.inner.readEvent(id);
  }
  subscribe(options?: SubscribeOptions) {
    return this.inner.subscribe(options);
  }
  headPosition() {
    return this.inner.headPosition();
  }
  setStreamMetadata(stream: string, metadata: StreamMetadata) {
    return this.inner.setStreamMetadata(stream, metadata);
  }
  getStreamMetadata(stream: string) {
    return this.inner.getStreamMetadata(stream);
  }
  deleteStream(stream: string, expectedRevision: ExpectedRevision) {
    return this.inner.deleteStream(stream, expectedRevision);
  }
  close() {
    return this.inner.close();
  }
}
