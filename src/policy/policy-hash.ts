import { createHash } from 'node:crypto';
import type { RollbackPolicy } from './rollback-policy.js';

/**
 * SHA-256 of the policy as loaded, in its own key order (the order of the rules decides which one
 * acts first, so a reordered file is another policy): what a recorded verification was made with.
 */
export const policyHash = (policy: RollbackPolicy): string =>
  createHash('sha256').update(JSON.stringify(policy)).digest('hex');
