import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
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

/** Finds who a bearer token belongs to, comparing hashes in constant time. */
export class TokenRegistry {
  private readonly entries: readonly { entry: TokenEntry; digest: Buffer }[];

  constructor(
    entries: readonly TokenEntry[],
    private readonly clock: Clock = systemClock,
  ) {
    this.entries = entries.map((entry) => ({ entry, digest: Buffer.from(entry.sha256, 'hex') }));
  }

  get size(): number {
    return this.entries.length;
  }

  identify(token: string): Identification {
    const digest = Buffer.from(hashToken(token), 'hex');
    let found: TokenEntry | undefined;
    for (const { entry, digest: known } of this.entries) if (timingSafeEqual(digest, known)) found ??= entry;
    if (!found) return undefined;
    if (found.expiresAt !== undefined && Date.parse(found.expiresAt) <= this.clock.now().getTime())
      return { expired: found };
    return { principal: { name: found.name, role: found.role } };
  }
}
