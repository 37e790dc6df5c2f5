import { createHash, randomBytes } from 'node:crypto';
import type { Principal, Role } from './roles.js';
import { systemClock, type Clock } from '../runtime/clock.js';

/** A token as configured: only its SHA-256 is ever stored. */
export interface TokenEntry {
  readonly name: string;
  readonly role: Role;
  readonly sha256: string;
  /** After this instant (ISO 8601) the token is refused. */
  readonly expiresAt?: string | undefined;
}

/** Who a bearer token belongs to, or the entry of a token that has expired; undefined when unknown. */
export type Identification = { readonly principal: Principal } | { readonly expired: TokenEntry } | undefined;

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/** A new random bearer token; the `fs_` prefix makes a leaked one easy to recognise and search for. */
export const newToken = (): string => `fs_${randomBytes(32).toString('base64url')}`;

/**
 * Finds who a bearer token belongs to by the token's SHA-256: one lookup however many tokens are
 * configured (comparing with each in turn cost every request half a microsecond per token). What a
 * lookup's timing can tell a caller is about the hash of the token it sent, which leads to no token.
 */
export class TokenRegistry {
  private readonly byDigest = new Map<string, TokenEntry>();

  constructor(
    private readonly entries: readonly TokenEntry[],
    private readonly clock: Clock = systemClock,
  ) {
    // Two entries with one hash: the first is the one that counts.
    for (const entry of entries) {
      const digest = entry.sha256.toLowerCase();
      if (!this.byDigest.has(digest)) this.byDigest.set(digest, entry);
    }
  }

  get size(): number {
    return this.entries.length;
  }

  identify(token: string): Identification {
    const found = this.byDigest.get(hashToken(token));
    if (!found) return undefined;
    if (found.expiresAt !== undefined && Date.parse(found.expiresAt) <= this.clock.now().getTime())
      return { expired: found };
    return { principal: { name: found.name, role: found.role } };
  }
}
