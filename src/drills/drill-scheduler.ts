import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { handleCommand } from '../application/command-handler.js';
import { InvariantViolated } from '../domain/decider.js';
import { drillScheduleDecider, drillScheduleStream } from '../domain/drill-schedule.js';
import type { EventStore, Subscription } from '../event-store/event-store.js';
import { decodeEvent } from '../events/catalogue.js';
import { parseCron, previousSlot, MONTHLY } from './cron.js';
import { loadDrill } from './drill-file.js';
import { systemClock, type Clock } from '../runtime/clock.js';

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
  /** Runs one drill to its end (never throws for a failed drill; a throw is logged). */
  readonly run: (drill: string, context: RunContext) => Promise<void>;
  readonly log: (line: string) => void;
  readonly clock?: Clock;
  readonly checkEveryMs?: number;
}

/** The drills of a folder and their schedules (`schedule:` in the file; monthly by default). */
export function scheduledDrills(drillsDir: string): { drill: string; cron: string }[] {
  return readdirSync(drillsDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => loadDrill(join(drillsDir, f)))
    .map((d) => ({ drill: d.drill, cron: d.schedule ?? MONTHLY }));
}

/**
 * Runs each drill at its cron slots, inside `failsafe serve`. A slot is claimed on the drill's
 * schedule stream at the revision read, so with several Failsafe processes exactly one runs it;
 * a slot missed while no Failsafe ran is caught up (the latest one only). Drills asked for
 * through the API (DrillRequested) are run too. One drill at a time.
 */
export class DrillScheduler {
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<void> = Promise.resolve();
  private requests: Subscription | undefined;
  private following: Promise<void> | undefined;
  private readonly clock: Clock;

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
        const event = decodeEvent(recorded);
        if (event.type === 'DrillRequested')
          this.enqueue(event.data.drill, { runId: event.data.runId, trigger: 'manual', requested: true });
      }
    })();
  }

  private enqueue(drill: string, context: RunContext): void {
    this.queue = this.queue.then(() =>
      this.options
        .run(drill, context)
        .catch((error: Error) => this.options.log(`drill ${drill} (${context.runId}): ${error.message}`)),
    );
  }

  /** Sets each drill's schedule and claims (then runs) each slot that has come. */
  async tick(): Promise<void> {
    const now = this.clock.now();
    let drills: { drill: string; cron: string }[];
    try {
      drills = scheduledDrills(this.options.drillsDir);
    } catch (error) {
      this.options.log(`drill scheduler: ${(error as Error).message}`);
      return;
    }
    for (const { drill, cron } of drills) {
      const stream = drillScheduleStream(drill);
      const context = { actor: SCHEDULER_ACTOR, now };
      await handleCommand(
        this.options.store,
        stream,
        drillScheduleDecider,
        { type: 'SetSchedule', drill, cron, at: now.toISOString() },
        context,
      );
      const slot = previousSlot(parseCron(cron), now);
      if (!slot) continue;
      const runId = `run-${randomUUID().slice(0, 8)}`;
      try {
        const { events } = await handleCommand(
          this.options.store,
          stream,
          drillScheduleDecider,
          { type: 'ClaimSlot', drill, slot: slot.toISOString(), runId },
          context,
        );
        if (events.length === 0) continue;
      } catch (error) {
        if (error instanceof InvariantViolated) continue; // Not due, or another Failsafe claimed it.
        throw error;
      }
      this.options.log(`drill scheduler: ${drill}'s slot ${slot.toISOString()} is due: running it as ${runId}`);
      this.enqueue(drill, { runId, trigger: 'schedule', scheduledFor: slot.toISOString() });
    }
  }

  /** Stops scheduling; resolves once the drill in progress (if any) has finished. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.requests?.close();
    await this.following;
    await this.queue;
  }
}
