import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { InvariantViolated } from '../domain/decider.js';
import { fixedClock } from './clock.js';
import { keepLease } from './lease-keeper.js';

const start = new Date('2026-12-01T03:00:00.000Z');
const keep = (renew: (until: Date) => Promise<void>) => {
  const clock = fixedClock(start);
  const lines: string[] = [];
  const lease = keepLease({
    clock,
    leaseMs: 30_000,
    renewEveryMs: 5,
    until: new Date(start.getTime() + 30_000),
    renew,
    log: (line) => lines.push(line),
  });
  return { clock, lines, lease };
};

describe('a kept lease', () => {
  it('is renewed a lease length on from each renewal, until released', async () => {
    const renewals: string[] = [];
    const { clock, lease } = keep(async (until) => {
      renewals.push(until.toISOString());
    });
    await expect.poll(() => renewals.length).toBeGreaterThan(0);
    clock.set('2026-12-01T03:10:00.000Z');
    await expect.poll(() => renewals.at(-1)).toBe('2026-12-01T03:10:30.000Z');
    lease.release();
    const count = renewals.length;
    await sleep(30);
    expect(renewals.length).toBe(count);
    expect(lease.lost.aborted).toBe(false);
  });

  it('is lost, with the reason, once the store says another holds it', async () => {
    const { lease } = keep(async () => {
      throw new InvariantViolated('lease-lost', 'rollback r-1 is leased to ops-2');
    });
    await expect.poll(() => lease.lost.aborted).toBe(true);
    expect(String(lease.lost.reason)).toMatch(/lease-lost.*leased to ops-2/);
  });

  it('rides out failed renewals while the lease holds, and gives the work up once it ran out', async () => {
    let failures = 0;
    const { clock, lease, lines } = keep(async () => {
      failures += 1;
      throw new Error('connection refused');
    });
    await expect.poll(() => failures).toBeGreaterThan(2);
    expect(lease.lost.aborted).toBe(false);
    clock.set('2026-12-01T03:00:30.000Z');
    await expect.poll(() => lease.lost.aborted).toBe(true);
    expect(String(lease.lost.reason)).toMatch(/LeaseExpired: no renewal reached the store before .*03:00:30/);
    expect(lines[0]).toMatch(/renewing the lease: connection refused; trying again/);
  });

  it('gives the work up when a renewal hangs past the lease (cut off from the store)', async () => {
    let calls = 0;
    const { clock, lease } = keep(() => {
      calls += 1;
      return new Promise<void>(() => {});
    });
    await expect.poll(() => calls).toBe(1);
    clock.set('2026-12-01T03:00:31.000Z');
    await expect.poll(() => lease.lost.aborted).toBe(true);
    expect(calls).toBe(1);
  });
});
