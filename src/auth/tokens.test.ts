import { describe, expect, it } from 'vitest';
import { hashToken, newToken, TokenRegistry } from './tokens.js';

describe('token registry', () => {
  it('identifies a token until its expiry, then names whose token expired', () => {
    const token = newToken();
    let now = Date.parse('2026-11-30T23:59:59Z');
    const registry = new TokenRegistry(
      [{ name: 'eve', role: 'viewer', sha256: hashToken(token), expiresAt: '2026-12-01T00:00:00Z' }],
      { now: () => new Date(now) },
    );
    expect(registry.identify(token)).toEqual({ principal: { name: 'eve', role: 'viewer' } });
    now += 1000;
    expect(registry.identify(token)).toEqual({
      expired: expect.objectContaining({ name: 'eve', expiresAt: '2026-12-01T00:00:00Z' }),
    });
    expect(registry.identify(newToken())).toBeUndefined();
  });
});
