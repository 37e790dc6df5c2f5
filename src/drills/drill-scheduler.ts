import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { handleCommand, loadStream } from '../application/command-handler.js';
import { InvariantViolated } from '../domain/decider.js';
import { claimLapsed, drillScheduleDecider } from '../domain/drill-schedule.js';
import type { FleetConfig } from '../config/fleet-config.js';
import type { EventStore, Subscription } from '../event-store/event-store.js';
import { decodeStored } from '../events/catalogue.js';
import { parseCron, previousSlot, MONTHLY } from './cron.js';
import { loadDrill } from './drill-file.js';
import { abortStaleRun, runCompleted } from './drill-stale-runs.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { keepLease } from '../runtime/lease-keeper.js';
import { drillScheduleStream } from '../domain/streams.js';

export const SCHEDULER_ACTOR = 'failsafe:drill-scheduler';

export interface RunContext {
  readonly runId: string;
  readonly trigger: 'manual' | 'schedule';
  readonly scheduledFor?: string;
  /** Asked for through the API: the run's stream already holds its DrillRequested. */
  readonly requested?: boolean;
}

export interface DrillSchedulerOptions {
  readonly store: EventStore;
  readonly drillsDir: string;
  /** The fleet the drills run on: a drill it cannot run (unknown release, service or proxy) is not scheduled. */
  readonly fleet?: FleetConfig | undefined;
  /**
   * Runs one drill to its end (never throws for a failed drill; a throw is logged). `signal` aborts
   * a scheduled run whose slot another Failsafe took over (its lease lapsed: this one looked dead).
   */
  readonly run: (drill: string, context: RunContext, signal: AbortSignal) => Promise<void>;
  readonly log: (line: string) => void;
  readonly clock?: Clock;
  readonly checkEveryMs?: number;
  /** How long a claim holds unless renewed (2 minutes): a dead Failsafe's slot is taken over after it. */
  readonly leaseMs?: number;
  /** How often a held claim is renewed (a quarter of the lease). */
  readonly renewEveryMs?: number;
}

/** A slot this process holds: renewed until its run ends; `lost` aborts once another Failsafe took it over. */
interface HeldClaim {
  readonly lost: AbortSignal;
  end(): Promise<void>;
}

/**
 * The drills of a folder and their schedules (`schedule:` in the file; monthly by default), checked
 * against the fleet when it is known. An invalid file throws, unless `skip` takes it: then the
 * other drills keep their schedules.
 */
export function scheduledDrills(
  drillsDir: string,
  options: { readonly fleet?: FleetConfig | undefined; readonly skip?: (error: Error) => void } = {},
): { drill: string; cron: string }[] {
  return readdirSync(drillsDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .flatMap((f) => {
      try {
        return [loadDrill(join(drillsDir, f), options.fleet)];
      } catch (error) {
        if (!options.skip) throw error;
        options.skip(error as Error);
        return [];
      }
    })
    .map((d) => ({ drill: d.drill, cron: d.schedule ?? MONTHLY }));
}

/**
 * Runs each drill at its cron slots, inside `failsafe serve`. A slot is claimed on the drill's
 * schedule stream at the revision read, so with several Failsafe processes exactly one runs it;
 * a slot missed while no Failsafe ran is caught up (the latest one only). A claim is a lease the
 * holder renews until its run ends: when a Failsafe dies holding one, another takes the slot over
 * once the lease has lapsed, and ends the dead run as aborted. Drills asked for through the API
 * (DrillRequested) are run too. One drill at a time.
 */
export class DrillScheduler {
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<void> = Promise.resolve();
  private requests: Subscription | undefined;
  private following: Promise<void> | undefined;
  private readonly clock: Clock;
  /** The runs of the claims this process holds, so that it never takes over its own. */
  private readonly held = new Set<string>();
  /** The invalid drill files last said, so that each is said once. */
  private reportedInvalid = new Set<string>();

  constructor(private readonly options: DrillSchedulerOptions) {
    this.clock = options.clock ?? systemClock;
  }

  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.options.checkEveryMs ?? 30_000);
    this.requests = this.options.store.subscribe();
    this.following = (async () => {
      for await (const recorded of this.requests!) {
        if (recorded.type !== 'DrillRequested' || recorded.revision !== 0n) continue;
        // Already started (by this Failsafe before a restart, or another one): nothing to do.
        let started = false;
        for await (const last of this.options.store.readStream(recorded.stream, {
          direction: 'backwards',
          maxCount: 1,
        }))
          started = last.revision > 0n;
        if (started) continue;
        const event = decodeStored(recorded);
        if (event.type === 'DrillRequested')
          this.enqueue(event.data.drill, { runId: event.data.runId, trigger: 'manual', requested: true });
      }
    })();
  }

  private enqueue(drill: string, context: RunContext, claim?: HeldClaim): void {
    this.queue = this.queue.then(async () => {
      try {
        if (claim?.lost.aborted)
          return this.options.log(`drill ${drill} (${context.runId}): not run, its slot was taken over`);
        await this.options.run(drill, context, claim?.lost ?? new AbortController().signal);
      } catch (error) {
        this.options.log(`drill ${drill} (${context.runId}): ${(error as Error).message}`);
      } finally {
        await claim?.end();
      }
    });
  }

  /** Sets each drill's schedule and claims (then runs) each slot that has come. */
  async tick(): Promise<void> {
    const now = this.clock.now();
    let drills: { drill: string; cron: string }[];
    const invalid = new Set<string>();
    try {
      drills = scheduledDrills(this.options.drillsDir, {
        fleet: this.options.fleet,
        skip: (error) => invalid.add(error.message),
      });
    } catch (error) {
      this.options.log(`drill scheduler: ${(error as Error).message}`);
      return;
    }
    // Said once, not at every check, until the file changes.
    for (const problem of invalid)
      if (!this.reportedInvalid.has(problem)) this.options.log(`drill scheduler: not scheduled: ${problem}`);
    this.reportedInvalid = invalid;
    for (const { drill, cron } of drills) {
      // One drill's trouble (the store busy with another Failsafe, say) neither stops the others nor serve.
      await this.claimDue(drill, cron, now).catch((error: Error) =>
        this.options.log(`drill scheduler: ${drill}: ${error.message}; trying again at the next check`),
      );
    }
  }

  private async claimDue(drill: string, cron: string, now: Date): Promise<void> {
    const { store, log } = this.options;
    const stream = drillScheduleStream(drill);
    const context = { actor: SCHEDULER_ACTOR, now };
    await handleCommand(
      store,
      stream,
      drillScheduleDecider,
      { type: 'SetSchedule', drill, cron, at: now.toISOString() },
      context,
    );
    const slot = previousSlot(parseCron(cron), now)?.toISOString();
    if (!slot) return;
    const { claim } = (await loadStream(store, stream, drillScheduleDecider)).state;
    const lapsed = claimLapsed(claim, now.toISOString()) && !this.held.has(claim.runId) ? claim : undefined;
    if (lapsed && (await runCompleted(store, lapsed.runId))) {
      // Its Failsafe died after the run had reached its verdict: the slot was run, nothing to take over.
      await handleCommand(store, stream, drillScheduleDecider, { type: 'EndRun', drill, runId: lapsed.runId }, context);
    }
    const runId = `run-${randomUUID().slice(0, 8)}`;
    const leaseUntil = new Date(now.getTime() + this.leaseMs).toISOString();
    try {
      const claimed = { type: 'ClaimSlot', drill, slot, runId, now: now.toISOString(), leaseUntil } as const;
      const { events } = await handleCommand(store, stream, drillScheduleDecider, claimed, context);
      if (events.length === 0) return;
    } catch (error) {
      if (error instanceof InvariantViolated) return; // Not due, or another Failsafe holds it.
      throw error;
    }
    if (lapsed) {
      const why =
        `its Failsafe stopped renewing the claim of ${drill}'s slot ${lapsed.slot} ` +
        `(lease until ${lapsed.leaseUntil}): it died, or lost the store`;
      if (await abortStaleRun(store, lapsed.runId, why, context))
        log(`drill scheduler: run ${lapsed.runId} of ${drill} ended as aborted: ${why}`);
    }
    const over = lapsed?.slot === slot ? `taken over from ${lapsed.runId}, ` : '';
    log(`drill scheduler: ${drill}'s slot ${slot} is due: ${over}running it as ${runId}`);
    this.enqueue(drill, { runId, trigger: 'schedule', scheduledFor: slot }, this.hold(drill, runId, leaseUntil));
  }

  private get leaseMs(): number {
    return this.options.leaseMs ?? 120_000;
  }

  /** Renews a claim this process won until its run ends, then records the end. */
  private hold(drill: string, runId: string, leaseUntil: string): HeldClaim {
    const { store, log } = this.options;
    const stream = drillScheduleStream(drill);
    const at = () => ({ actor: SCHEDULER_ACTOR, now: this.clock.now() });
    this.held.add(runId);
    const lease = keepLease({
      clock: this.clock,
      leaseMs: this.leaseMs,
      renewEveryMs: this.options.renewEveryMs ?? this.leaseMs / 4,
      until: new Date(leaseUntil),
      renew: async (until) => {
        const renewal = { type: 'RenewLease', drill, runId, leaseUntil: until.toISOString() } as const;
        await handleCommand(store, stream, drillScheduleDecider, renewal, at());
      },
      log: (line) => log(`drill scheduler: ${drill}'s run ${runId}: ${line}`),
    });
    return {
      lost: lease.lost,
      end: async () => {
        lease.release();
        this.held.delete(runId);
        await handleCommand(store, stream, drillScheduleDecider, { type: 'EndRun', drill, runId }, at()).catch(
          (error: Error) => log(`drill scheduler: could not record the end of ${runId}: ${error.message}`),
        );
      },
    };
  }

  /** Stops scheduling; resolves once the drill in progress (if any) has finished. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.requests?.close();
    await this.following;
    await this.queue;
  }
}
