import { describe, expect, it } from 'vitest';
import { parseTelemetryMessage } from './telemetry-message.js';

const sample = {
  schemaVersion: 1,
  kind: 'health_sample',
  id: '0193a3b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b',
  sample: {
    service: 'orders',
    instance: 'orders-1',
    sampledAt: '2026-12-01T10:00:00.000Z',
    healthy: true,
    healthLatencyMs: 12,
  },
};
const bytes = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

describe('telemetry messages', () => {
  it('reads a health sample of schema version 1', () => {
    expect(parseTelemetryMessage(bytes(sample), 65_536)).toEqual({ ok: true, message: sample });
  });

  it.each([
    ['an empty value', null, /empty message/],
    ['malformed JSON', '{"schemaVersion":1,', /malformed JSON/],
    ['another schema version', { ...sample, schemaVersion: 2 }, /unsupported schemaVersion 2/],
    ['no schema version', { kind: 'health_sample' }, /unsupported schemaVersion undefined/],
    ['a bad identifier', { ...sample, sample: { ...sample.sample, service: '../x' } }, /sample.service: must be/],
    ['a NUL in a name', { ...sample, sample: { ...sample.sample, instance: 'a\u0000b' } }, /sample.instance/],
    ['an unknown field', { ...sample, extra: true }, /\(message\): Unrecognized key/],
    ['an unknown kind', { ...sample, kind: 'metrics' }, /kind/],
  ])('refuses %s, saying why', (_, value, why) => {
    const parsed = parseTelemetryMessage(value === null ? null : bytes(value), 65_536);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.reason).toMatch(why);
  });

  it('refuses an oversized message before parsing it', () => {
    expect(parseTelemetryMessage(Buffer.alloc(70_000, 'x'), 65_536)).toEqual({
      ok: false,
      reason: 'oversized: 70000 bytes, at most 65536',
    });
  });
});
