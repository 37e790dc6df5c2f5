import Database from 'better-sqlite3';

/** Pages copied in the first step; a step that a write restarts makes the next ones larger. */
const FIRST_STEP_PAGES = 100;

export interface PageProgress {
  readonly copied: number;
  readonly total: number;
  /** How often a write by another connection made SQLite start the copy again. */
  readonly restarts: number;
}

/**
 * Copies a live SQLite database into a new file with SQLite's online backup API, step by step, while
 * other processes go on writing (WAL: readers never block them). A write between two steps makes
 * SQLite start again, so each restart quadruples the step: soon one step copies the whole file
 * between two writes, a consistent snapshot. `onPages` may throw to stop the copy. The copy is
 * left in rollback-journal mode, one self-contained file. Returns the copy's last position.
 */
export async function copyDatabasePages(
  from: string,
  to: string,
  onPages: (progress: PageProgress) => void = () => undefined,
): Promise<bigint> {
  // Read-write, as the live store's own connections are: a read-only one cannot always use its WAL.
  const source = new Database(from, { fileMustExist: true });
  try {
    source.pragma('busy_timeout = 5000');
    let step = FIRST_STEP_PAGES;
    let remaining = Number.POSITIVE_INFINITY;
    let restarts = 0;
    await source.backup(to, {
      progress: ({ totalPages, remainingPages }) => {
        if (remainingPages > remaining) {
          restarts += 1;
          step *= 4;
        }
        remaining = remainingPages;
        onPages({ copied: totalPages - remainingPages, total: totalPages, restarts });
        return step;
      },
    });
  } finally {
    source.close();
  }
  const copy = new Database(to, { fileMustExist: true });
  try {
    copy.pragma('journal_mode = DELETE');
    const head = copy.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'").pluck().get();
    return BigInt((head as number | undefined) ?? 0);
  } finally {
    copy.close();
  }
}

/** Problems `PRAGMA integrity_check` finds in a database file (none: it is whole), or why it cannot be read. */
export function integrityProblems(path: string): string[] {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const rows = db.prepare('PRAGMA integrity_check').pluck().all() as string[];
    return rows.length === 1 && rows[0] === 'ok' ? [] : rows.slice(0, 5);
  } catch (error) {
    return [(error as Error).message];
  } finally {
    db?.close();
  }
}

/** A backup's manifest lives in a table of its own beside the store's, so that the file stays one valid store. */
const MANIFEST_TABLE = 'failsafe_backup';

export function writeBackupManifest(path: string, manifest: string): void {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.transaction(() => {
      db.exec(`DROP TABLE IF EXISTS ${MANIFEST_TABLE}; CREATE TABLE ${MANIFEST_TABLE} (manifest TEXT NOT NULL)`);
      db.prepare(`INSERT INTO ${MANIFEST_TABLE} (manifest) VALUES (?)`).run(manifest);
    })();
    db.pragma('journal_mode = DELETE');
  } finally {
    db.close();
  }
}

/** The manifest text, or undefined when the file carries none (a store, not a backup). */
export function readBackupManifest(path: string): string | undefined {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const table = db.prepare('SELECT 1 FROM sqlite_master WHERE type = ? AND name = ?').get('table', MANIFEST_TABLE);
    if (!table) return undefined;
    return db.prepare(`SELECT manifest FROM ${MANIFEST_TABLE}`).pluck().get() as string | undefined;
  } finally {
    db.close();
  }
}

/** A restored store keeps no manifest: a later backup of it writes its own. */
export function removeBackupManifest(path: string): void {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.exec(`DROP TABLE IF EXISTS ${MANIFEST_TABLE}`);
  } finally {
    db.close();
  }
}
