import { z } from 'zod';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in hex');

/** What a backup holds, written into it when it is complete, and checked by `restore` before and after. */
export const backupManifestSchema = z.strictObject({
  format: z.literal('failsafe-backup'),
  version: z.literal(1),
  source: z.enum(['sqlite', 'postgres']),
  takenAt: z.iso.datetime(),
  failsafeVersion: z.string().min(1),
  events: z.number().int().nonnegative(),
  lastPosition: z.string().regex(/^\d+$/),
  /** SHA-256 of the whole history with positions (see history-digest.ts). */
  digest: sha256,
  /** A PostgreSQL backup's pg_dump bytes, which follow the manifest line in the file. */
  dump: z.strictObject({ bytes: z.number().int().nonnegative(), sha256 }).optional(),
});
export type BackupManifest = z.infer<typeof backupManifestSchema>;

/** The first line of a PostgreSQL backup, before its manifest and the dump. */
export const POSTGRES_BACKUP_MAGIC = 'FAILSAFE-POSTGRES-BACKUP ';
