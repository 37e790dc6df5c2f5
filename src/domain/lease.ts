import type { EventData } from '../events/catalogue.js';

/**
 * A lease: work claimed until an instant, renewed by its holder while it works. Once the instant has
 * passed without a renewal, its holder is taken for dead (or cut off) and another may take the work
 * over; the holder's own clock set the instant, so the hosts' clocks must agree to well within a lease.
 */
export const leaseLapsed = (until: string, now: string | Date): boolean => Date.parse(until) <= new Date(now).getTime();

export type Executor = EventData<'ExecutionLeaseRenewed'>['executor'];
export type LeasedWork = EventData<'ExecutionLeaseRenewed'>['work'];

/** Who carries out a rollback or deployment in progress, and until when, unless renewed. */
export interface ExecutionLease {
  readonly executor: Executor;
  readonly until: string;
}
