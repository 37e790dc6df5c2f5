import { z } from 'zod';

export const serviceName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i, 'must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit');
export const releaseName = z.string().min(1).max(128);
export const identifier = z.string().min(1).max(128);
export const reason = z.string().min(1).max(2000);
export const actorName = z.string().min(1).max(200);
export const eventId = z.uuid();
export const timestamp = z.iso.datetime({ offset: true });
/** A fraction from 0 to 1 (error rates, progress, memory use): never a percentage. */
export const ratio = z.number().min(0).max(1);
export const milliseconds = z.number().nonnegative();
export const count = z.number().int().nonnegative();
export const severity = z.enum(['P0', 'P1', 'P2', 'P3']);
