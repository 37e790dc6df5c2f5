import type { z } from 'zod';
import { InvalidEvent, type FieldProblem } from '../event-store/errors.js';
import type { NewEvent, RecordedEvent } from '../event-store/event-store.js';
import { alertEvents } from './alert-events.js';
import { auditEvents } from './audit-events.js';
import type { EventDefinition } from './define-event.js';
import { deploymentEvents } from './deployment-events.js';
import { drillEvents } from './drill-events.js';
import { executionEvents } from './execution-events.js';
import { eventMetadata, newEventId, type EventMetadata } from './envelope.js';
import { UndecodableEvent, UnknownEventType, UnknownSchemaVersion } from './errors.js';
import { featureFlagEvents } from './feature-flag-events.js';
import { healthEvents } from './health-events.js';
import { migrationEvents } from './migration-events.js';
import { rollbackEvents } from './rollback-events.js';
import { scalingEvents } from './scaling-events.js';
import { serviceEvents } from './service-events.js';
import { telemetryEvents } from './telemetry-events.js';
import { timeEvents } from './time-events.js';

const definitions = [
  ...serviceEvents,
  ...deploymentEvents,
  ...migrationEvents,
  ...healthEvents,
  ...telemetryEvents,
  ...featureFlagEvents,
  ...rollbackEvents,
  ...scalingEvents,
  ...executionEvents,
  ...drillEvents,
  ...timeEvents,
  ...auditEvents,
  ...alertEvents,
] as const;

type Definition = (typeof definitions)[number];

/** Every event Failsafe records, as a discriminated union on `type`, derived from the schemas. */
export type DomainEvent = Definition extends infer D
  ? D extends EventDefinition<infer T, infer S>
    ? { readonly type: T; readonly data: z.infer<S> }
    : never
  : never;

export type EventType = DomainEvent['type'];
export type EventData<T extends EventType> = Extract<DomainEvent, { type: T }>['data'];

/** A recorded event, decoded: its data upcast to the current schema and validated. */
export type TypedRecordedEvent = Omit<RecordedEvent, 'type' | 'data' | 'metadata'> &
  DomainEvent & { readonly metadata: EventMetadata };

const byType: ReadonlyMap<string, EventDefinition> = new Map(definitions.map((d) => [d.type, d as EventDefinition]));

export const eventTypes: readonly EventType[] = definitions.map((d) => d.type).sort();

export const isEventType = (type: string): type is EventType => byType.has(type);

export const currentSchemaVersion = (type: EventType): number => byType.get(type)!.version;

const problemsOf = (error: z.ZodError, prefix: string): FieldProblem[] =>
  error.issues.map((issue) => ({
    path: [prefix, ...issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))]
      .join('.')
      .replace(/\.\[/g, '['),
    message: issue.message,
  }));

/** Validates untrusted input (CLI, HTTP, MCP, Kafka) into a domain event; the error names each bad field. */
export function parseDomainEvent(type: string, data: unknown): DomainEvent {
  const definition = byType.get(type);
  if (!definition) {
    throw new InvalidEvent([
      { path: 'type', message: `unknown event type "${type}"; known types: ${eventTypes.join(', ')}` },
    ]);
  }
  const parsed = definition.schema.safeParse(data);
  if (!parsed.success) throw new InvalidEvent(problemsOf(parsed.error, 'data'));
  return { type, data: parsed.data } as DomainEvent;
}

export interface EncodeOptions {
  readonly actor: string;
  /** Taken from the caller: the domain never reads the clock. */
  readonly occurredAt: Date;
  readonly id?: string;
  /** Defaults to the event's own id: it starts a new chain. */
  readonly correlationId?: string;
  readonly causationId?: string | null;
}

/** Validates a domain event and wraps it in the envelope, ready to append. */
export function encodeEvent(event: DomainEvent, options: EncodeOptions): NewEvent {
  return encodeParsedEvent(parseDomainEvent(event.type, event.data), options);
}

/**
 * Wraps in the envelope an event whose data was parsed with its type's own schema already (a Kafka
 * message's sample, parsed at that boundary): it is not validated twice. The envelope still is.
 */
export function encodeParsedEvent({ type, data }: DomainEvent, options: EncodeOptions): NewEvent {
  const id = options.id ?? newEventId();
  const metadata = eventMetadata.safeParse({
    correlationId: options.correlationId ?? id,
    causationId: options.causationId ?? null,
    actor: options.actor,
    schemaVersion: currentSchemaVersion(type),
    occurredAt: Number.isNaN(options.occurredAt.getTime()) ? 'invalid date' : options.occurredAt.toISOString(),
  });
  if (!metadata.success) throw new InvalidEvent(problemsOf(metadata.error, 'metadata'));
  return { id, type, data: data as NewEvent['data'], metadata: metadata.data };
}

/**
 * Validates a recorded event from outside Failsafe's own store (an archive file, a copy being
 * imported): unknown types and newer versions are refused, older versions upcast, and the metadata
 * and the (upcast) data checked against their schemas.
 */
export function decodeEvent(recorded: RecordedEvent): TypedRecordedEvent {
  const definition = byType.get(recorded.type);
  if (!definition) throw new UnknownEventType(recorded.type, recorded.id);
  const metadata = eventMetadata.safeParse(recorded.metadata);
  if (!metadata.success) throw new UndecodableEvent(recorded.id, problemsOf(metadata.error, 'metadata'));
  const stored = metadata.data.schemaVersion;
  if (stored > definition.version)
    throw new UnknownSchemaVersion(recorded.type, recorded.id, stored, definition.version);
  let upcast: unknown = recorded.data;
  try {
    for (const upcaster of definition.upcasters.slice(stored - 1)) upcast = upcaster(upcast);
  } catch (error) {
    throw new UndecodableEvent(recorded.id, [
      { path: 'data', message: `cannot be upcast from version ${stored}: ${(error as Error).message}` },
    ]);
  }
  const data = definition.schema.safeParse(upcast);
  if (!data.success) throw new UndecodableEvent(recorded.id, problemsOf(data.error, 'data'));
  return { ...recorded, type: recorded.type, data: data.data, metadata: metadata.data } as TypedRecordedEvent;
}

/**
 * Reads an event from Failsafe's own store: every append went through `encodeEvent`, so an event at
 * its type's current schema version was validated by this very schema and is taken as stored.
 * Anything else goes through `decodeEvent`: an older version's upcast data was never validated, and
 * an unknown type, a newer version or a missing one is refused with the same error as there.
 */
export function decodeStored(recorded: RecordedEvent): TypedRecordedEvent {
  const definition = byType.get(recorded.type);
  if (!definition) throw new UnknownEventType(recorded.type, recorded.id);
  if (recorded.metadata.schemaVersion !== definition.version) return decodeEvent(recorded);
  return recorded as unknown as TypedRecordedEvent;
}
