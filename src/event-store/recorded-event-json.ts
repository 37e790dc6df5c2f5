import type { RecordedEvent } from './event-store.js';

/** JSON cannot carry bigint: revisions and positions become decimal strings at the edge. */
export interface RecordedEventJson {
  id: string;
  stream: string;
  revision: string;
  position: string;
  type: string;
  data: unknown;
  metadata: unknown;
  recordedAt: string;
}

export const recordedEventToJson = (event: RecordedEvent): RecordedEventJson => ({
  id: event.id,
  stream: event.stream,
  revision: event.revision.toString(),
  position: event.position.toString(),
  type: event.type,
  data: event.data,
  metadata: event.metadata,
  recordedAt: event.recordedAt.toISOString(),
});
