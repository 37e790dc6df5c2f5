import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { actorName, eventId, timestamp } from './common-schemas.js';

/** Metadata every event carries: who, when, why (causation) and which conversation (correlation). */
export const eventMetadata = z.object({
  correlationId: eventId,
  /** The event that caused this one; null for an event a person or probe started. */
  causationId: eventId.nullable(),
  actor: actorName,
  schemaVersion: z.number().int().min(1),
  occurredAt: timestamp,
});

export type EventMetadata = z.infer<typeof eventMetadata>;

/** Event ids are UUID v7: time-ordered, so they index well and sort by creation. */
export const newEventId = (): string => uuidv7();
