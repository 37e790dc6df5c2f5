import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { releaseName, serviceName } from '../events/common-schemas.js';
import { named } from './cli-support.js';

describe('CLI arguments', () => {
  it('takes names through the shared identifier schemas, refusing what the API refuses', () => {
    expect(named(serviceName)('orders')).toBe('orders');
    expect(named(releaseName)('v2.0.0-crash')).toBe('v2.0.0-crash');
    for (const bad of ['../../x', 'a,b', 'x\u0000', 'x\ny', '.hidden', 'ᴠ1', 'x'.repeat(129)]) {
      expect(() => named(releaseName)(bad), bad).toThrow(InvalidArgumentError);
    }
    expect(() => named(serviceName)('s'.repeat(64))).toThrow(/at most 63 characters/);
  });
});
