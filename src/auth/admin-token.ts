import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashToken, newToken, type TokenEntry } from './tokens.js';

export const ADMIN_TOKEN_FILE = 'admin-token.sha256';
/** The built-in admin's name: no configured token may take it, or its actions would pass for the admin's. */
export const ADMIN_NAME = 'admin';

/**
 * The first-run admin: from FAILSAFE_ADMIN_TOKEN when given; otherwise a token generated on the
 * first start, whose hash is kept in the data folder and which is shown once (`printOnce`).
 */
export function adminToken(dataDir: string, fromEnv: string | undefined): { entry: TokenEntry; printOnce?: string } {
  if (fromEnv) return { entry: { name: ADMIN_NAME, role: 'admin', sha256: hashToken(fromEnv) } };
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  try {
    return { entry: { name: ADMIN_NAME, role: 'admin', sha256: readFileSync(file, 'utf8').trim() } };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const token = newToken();
  try {
    // 'wx': when two replicas start together on one folder, one writes and the other reads its hash.
    writeFileSync(file, `${hashToken(token)}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return adminToken(dataDir, undefined);
    throw error;
  }
  return { entry: { name: ADMIN_NAME, role: 'admin', sha256: hashToken(token) }, printOnce: token };
}
