import { InvariantViolated } from '../domain/decider.js';
import type { Clock } from './clock.js';

export interface LeaseKeeperOptions {
  readonly clock: Clock;
  /** How long each renewal extends the lease, from the instant it is made. */
  readonly leaseMs: number;
  readonly renewEveryMs: number;
  /** The instant the lease holds until, as it was taken. */
  readonly until: Date;
  /** Records the lease as held until `until`; throws `InvariantViolated` once another holds it. */
  readonly renew: (until: Date) => Promise<void>;
  readonly log: (line: string) => void;
}

/** A lease kept alive in the background: `lost` aborts once the work must stop; `release` stops renewing. */
export interface KeptLease {
  readonly lost: AbortSignal;
  release(): void;
}

/**
 * Renews a lease until released. The work stops (`lost` aborts) when the store says another holder
 * took it over, and also, on its own, when no renewal has reached the store before the lease ran out:
 * cut off from the store, a holder cannot know whether another took over, so it must assume so. While
 * renewals reach the store, the store alone decides (it refuses a renewal of a lease taken over).
 */
export function keepLease(options: LeaseKeeperOptions): KeptLease {
  const { clock, leaseMs, renew, log } = options;
  const lost = new AbortController();
  let confirmedUntil = options.until;
  let renewing = false;
  /** Whether the store has not answered the last renewal: only then does the deadline apply (it arbitrates). */
  let unconfirmed = false;
  const stop = (why: Error) => {
    clearInterval(timer);
    if (!lost.signal.aborted) lost.abort(why);
  };
  const tick = async () => {
    if ((renewing || unconfirmed) && clock.now() >= confirmedUntil) {
      const why = `no renewal reached the store before the lease ran out at ${confirmedUntil.toISOString()}`;
      log(`${why}; stopping`);
      return stop(new Error(`LeaseExpired: ${why}: another may have taken the work over`));
    }
    // A renewal still waiting on the store (cut off, say) is not doubled; the deadline above still applies.
    if (renewing) return;
    renewing = true;
    const until = new Date(clock.now().getTime() + leaseMs);
    try {
      await renew(until);
      confirmedUntil = until;
      unconfirmed = false;
    } catch (error) {
      if (error instanceof InvariantViolated) {
        log(`${error.message}; stopping`);
        return stop(error);
      }
      unconfirmed = true;
      log(`renewing the lease: ${(error as Error).message}; trying again`);
    } finally {
      renewing = false;
    }
  };
  const timer = setInterval(() => void tick(), options.renewEveryMs);
  return {
    lost: lost.signal,
    release: () => clearInterval(timer),
  };
}
