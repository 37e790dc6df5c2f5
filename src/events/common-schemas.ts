import { z } from 'zod';

/**
 * The one definition of a name Failsafe acts on (service, release, tool, drill, migration,
 * rollback, deployment, run, token): it ends up in paths, stream names, URLs and environment lists
 * (MCP_DISABLE_TOOLS), so only letters, digits, ".", "_" and "-", starting with a letter or digit,
 * never "..", and bounded.
 */
const IDENTIFIER = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]*$/;
const named = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .regex(IDENTIFIER, 'must be letters, digits, ".", "_" or "-", start with a letter or digit and not contain ".."');

export const identifier = named(128);
export const serviceName = named(63);
export const releaseName = identifier;
/** A stream: a prefix and an identifier (service-orders, drill-run-1a2b). */
export const streamName = named(200);
/** One line of text with no control character (newline, NUL, escape...): what may be shown and logged as is. */
export const singleLine = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^\P{Cc}*$/u, 'must not contain control characters');
/** A name only shown to people, never made a path or command of (a check, a step, an instance as a target names it). */
export const label = singleLine(200);
/** A stage of a staged migration (legacy, dual_protocol...). */
export const stageName = singleLine(64);
/** Who acted: a token name, or a part of Failsafe such as `policy:rule` or `failsafe:executor`; not an identifier. */
export const actorName = singleLine(200);
/** Free text recorded with an event; it may quote an error message over several lines. */
export const reason = z.string().min(1).max(2000);
/** A reason given at the front door (REST, MCP): one line, as a person types it. */
export const statedReason = singleLine(2000);
export const eventId = z.uuid();
export const timestamp = z.iso.datetime({ offset: true });
/** A fraction from 0 to 1 (error rates, progress, memory use): never a percentage. */
export const ratio = z.number().min(0).max(1);
export const milliseconds = z.number().nonnegative();
export const count = z.number().int().nonnegative();
export const severity = z.enum(['P0', 'P1', 'P2', 'P3']);
/** Alertmanager's identity of an alert: a hash of its labels, in hexadecimal. */
export const alertFingerprint = z.string().regex(/^[0-9a-f]{1,64}$/, 'must be hexadecimal');
