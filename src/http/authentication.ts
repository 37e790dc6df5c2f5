import type { Context, MiddlewareHandler } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { RateLimiter } from '../auth/rate-limiter.js';
import type { TokenRegistry } from '../auth/tokens.js';
import type { ApiEnv } from './rest-api.js';

export const rateLimited = (c: Context, who: string, retryAfterSeconds: number): Response => {
  const message = `RateLimited: ${who} sent more requests than its limit allows; retry in ${retryAfterSeconds} s`;
  return c.json({ error: 'RateLimited', message }, 429, { 'Retry-After': String(retryAfterSeconds) });
};

/** The caller's address, for limiting callers without a valid token; one bucket when the server cannot tell. */
const clientAddress = (c: Context): string => {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
};

/**
 * Bearer tokens for `/api/v1` and the MCP endpoint: who is calling (401 otherwise, rate-limited
 * by client address so guessing tokens is slow), then that caller's rate limit (429 with Retry-After).
 */
export const authenticate =
  (tokens: TokenRegistry, limiter: RateLimiter): MiddlewareHandler<ApiEnv> =>
  async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const found = match ? tokens.identify(match[1]!) : undefined;
    if (!found || 'expired' in found) {
      // Token names are identifiers (no ":"), so an address's bucket never shares a key with a token's.
      const address = `address:${clientAddress(c)}`;
      const verdict = limiter.take(address);
      if (!verdict.allowed) return rateLimited(c, address, verdict.retryAfterSeconds);
      c.header('WWW-Authenticate', 'Bearer realm="failsafe"');
      return c.json(
        {
          error: 'Unauthorized',
          message: found
            ? `Unauthorized: the token of ${found.expired.name} expired at ${found.expired.expiresAt}; ` +
              'ask an admin for a new one'
            : match
              ? 'Unauthorized: this bearer token is not known; ' +
                'ask an admin for a token (tokens are configured by their SHA-256 under auth.tokens)'
              : 'Unauthorized: send "Authorization: Bearer <token>"; ' +
                '`failsafe serve` printed the admin token on its first start',
        },
        401,
      );
    }
    const { principal } = found;
    const verdict = limiter.take(principal.name);
    if (!verdict.allowed) return rateLimited(c, principal.name, verdict.retryAfterSeconds);
    c.set('principal', principal);
    await next();
  };
