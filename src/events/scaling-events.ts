import { z } from 'zod';
import { identifier, reason, serviceName } from './common-schemas.js';
import { defineEvent } from './define-event.js';

const scaling = {
  scaleId: identifier,
  service: serviceName,
  replicas: z.number().int().min(0).max(1000),
};

/** The seeds' scaling procedure: asked by a person (the event's actor), carried out by the executor. */
export const scalingEvents = [
  defineEvent('ScaleRequested', z.strictObject({ ...scaling, reason: reason.optional() })),
  /** Every replica available: how many instances are ready. */
  defineEvent('ScaleCompleted', z.strictObject({ ...scaling, instances: z.number().int().min(0) })),
  defineEvent('ScaleFailed', z.strictObject({ ...scaling, reason })),
] as const;
