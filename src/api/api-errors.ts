import { DecisionNotFound } from '../audit/explain-decision.js';
import { Forbidden } from '../auth/roles.js';
import { InvariantViolated } from '../domain/decider.js';
import { WrongExpectedRevision } from '../event-store/errors.js';

/** Something asked for by name that Failsafe has no record of; the message says where to look. */
export class NotFound extends Error {
  readonly code = 'NOT_FOUND';
  constructor(message: string) {
    super(`NotFound: ${message}`);
    this.name = 'NotFound';
  }
}

/** Input that passed its schema but makes no sense together (e.g. a path and a body naming different services). */
export class InvalidRequest extends Error {
  readonly code = 'INVALID_REQUEST';
  constructor(readonly problems: readonly string[]) {
    super(`InvalidRequest: ${problems.join('; ')}`);
    this.name = 'InvalidRequest';
  }
}

/** A body that is not JSON by its Content-Type. */
export class UnsupportedMediaType extends Error {
  readonly code = 'UNSUPPORTED_MEDIA_TYPE';
  constructor(contentType: string) {
    super(`UnsupportedMediaType: the body is ${contentType}; send JSON with Content-Type: application/json`);
    this.name = 'UnsupportedMediaType';
  }
}

/** The HTTP status an error of the API maps to; anything unexpected is a 500. */
export function statusOf(error: unknown): 400 | 403 | 404 | 409 | 415 | 500 {
  if (error instanceof InvalidRequest) return 400;
  if (error instanceof UnsupportedMediaType) return 415;
  if (error instanceof Forbidden) return 403;
  if (error instanceof NotFound || error instanceof DecisionNotFound) return 404;
  if (error instanceof InvariantViolated || error instanceof WrongExpectedRevision) return 409;
  return 500;
}

/** What a caller is told: the error's own message when it was raised on purpose, never a stack. */
export function describeError(error: unknown): { error: string; message: string } {
  if (statusOf(error) === 500)
    return {
      error: 'InternalError',
      message: 'Failsafe could not handle this request; the server log has the details.',
    };
  const e = error as Error;
  return { error: e.name, message: e.message };
}
