import { EventStoreError } from '../event-store/errors.js';

/** The backup or restore was refused before anything was written: the message says what to change. */
export class BackupRefused extends EventStoreError {
  readonly code = 'BACKUP_REFUSED';
  constructor(detail: string) {
    super(`BackupRefused: ${detail}`);
  }
}

/** The backup file is truncated, damaged or not a Failsafe backup; nothing was restored from it. */
export class BackupCorrupt extends EventStoreError {
  readonly code = 'BACKUP_CORRUPT';
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(
      `BackupCorrupt: ${path} cannot be restored (${detail}); nothing was written — ` +
        'restore an older backup, or take a new one',
    );
  }
}

/** Stopped on request (Ctrl-C): the partial file was removed, and no backup carries the name asked for. */
export class BackupInterrupted extends EventStoreError {
  readonly code = 'BACKUP_INTERRUPTED';
  constructor(what: string) {
    super(`BackupInterrupted: ${what} stopped on request; its partial files were removed — run it again`);
  }
}

/** What was restored does not match what the backup recorded: the target must not be used. */
export class RestoreMismatch extends EventStoreError {
  readonly code = 'RESTORE_MISMATCH';
  constructor(detail: string) {
    super(`RestoreMismatch: ${detail}; do not start Failsafe on the target — empty it and restore again`);
  }
}
