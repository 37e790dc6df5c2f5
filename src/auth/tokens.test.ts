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

  it('tells apart many tokens, reads a hash in either case, and lets the first of two equal hashes count', () => {
    const tokens = Array.from({ length: 50 }, () => newToken());
    const registry = new TokenRegistry([
      ...tokens.map((token, i) => ({ name: `agent-${i}`, role: 'viewer' as const, sha256: hashToken(token) })),
      { name: 'impostor', role: 'admin', sha256: hashToken(tokens[7]!) },
      { name: 'shouting', role: 'auditor', sha256: hashToken('fs_upper').toUpperCase() },
    ]);
    tokens.forEach((token, i) => {
      expect(registry.identify(token)).toEqual({ principal: { name: `agent-${i}`, role: 'viewer' } });
    });
    expect(registry.identify('fs_upper')).toEqual({ principal: { name: 'shouting', role: 'auditor' } });
    expect(registry.identify(tokens[0]!.slice(0, -1))).toBeUndefined();
    expect(registry.size).toBe(52);
  });
});
