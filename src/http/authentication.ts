import type { MiddlewareHandler } from 'hono';
import type { RateLimiter } from '../auth/rate-limiter.js';
import type { TokenRegistry } from '../auth/tokens.js';
import type { ApiEnv } from './rest-api.js';

/**
 * Bearer tokens for `/api/v1` and the MCP endpoint: who is calling (401 otherwise), then that
 * caller's rate limit (429 with Retry-After).
 */
export const authenticate =
  (tokens: TokenRegistry, limiter: RateLimiter): MiddlewareHandler<ApiEnv> =>
  async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const principal = match ? tokens.identify(match[1]!) : undefined;
    if (!principal) {
      c.header('WWW-Authenticate', 'Bearer realm="failsafe"');
      return c.json(
        {
          error: 'Unauthorized',
          message: match
            ? 'Unauthorized: this bearer token is not known; ask an admin for a token (tokens are configured by their SHA-256 under auth.tokens)'
            : 'Unauthorized: send "Authorization: Bearer <token>"; `failsafe serve` printed the admin token on its first start',
        },
        401,
      );
    }
    const verdict = limiter.take(principal.name);
    if (!verdict.allowed) {
      c.header('Retry-After', String(verdict.retryAfterSeconds));
      return c.json({ error: 'RateLimited', message: `RateLimited: ${principal.name} sent more requests than its limit allows; retry in ${verdict.retryAfterSeconds} s` }, 429);
    }
    c.set('principal', principal);
    await next();
  };
