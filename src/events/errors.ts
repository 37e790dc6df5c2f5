import type { FieldProblem } from '../event-store/errors.js';

/** A stored event of a type this Failsafe does not know. */
export class UnknownEventType extends Error {
  readonly code = 'UNKNOWN_EVENT_TYPE';
  constructor(
    readonly type: string,
    readonly eventId: string,
  ) {
    super(
      `UnknownEventType: event ${eventId} has type "${type}", unknown to this Failsafe; upgrade Failsafe to read it`,
    );
    this.name = 'UnknownEventType';
  }
}

/** A stored event written by a newer Failsafe than this one. */
export class UnknownSchemaVersion extends Error {
  readonly code = 'UNKNOWN_SCHEMA_VERSION';
  constructor(
    readonly type: string,
    readonly eventId: string,
    readonly stored: number,
    readonly known: number,
  ) {
    super(
      `UnknownSchemaVersion: event ${eventId} (${type}) has schema version ${stored} but this Failsafe knows up to ` +
        `${known}; upgrade Failsafe to read it`,
    );
    this.name = 'UnknownSchemaVersion';
  }
}

/** A stored event that no longer matches its schema, even after upcasting: a bug or tampering. */
export class UndecodableEvent extends Error {
  readonly code = 'UNDECODABLE_EVENT';
  constructor(
    readonly eventId: string,
    readonly problems: readonly FieldProblem[],
  ) {
    super(
      `UndecodableEvent: stored event ${eventId} does not match its schema ` +
        `(${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}); ` +
        'add an upcaster for its shape or inspect it with `failsafe events read`',
    );
    this.name = 'UndecodableEvent';
  }
}
