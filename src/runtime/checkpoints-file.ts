import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { STORE_FILE } from '../config/serve-config.js';
import { describeStore, type StoreLocation } from '../event-store/store-url.js';

/**
 * Where the checkpoints of the read models folded from `store` live: always in the local data
 * folder (the fold is deterministic, so each replica may keep its own). They hold positions of
 * that one store, so another store (a copy's target, say) gets a file of its own and a rebuild,
 * never positions that mean other events. The embedded default keeps the historical name.
 */
export function checkpointsFile(dataDir: string, store: StoreLocation): string {
  if (store.kind === 'sqlite' && store.path === join(dataDir, STORE_FILE)) return join(dataDir, 'checkpoints.db');
  const key = createHash('sha256').update(describeStore(store)).digest('hex').slice(0, 12);
  return join(dataDir, `checkpoints-${key}.db`);
}
