import type { Command } from 'commander';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { action, say } from './cli-support.js';
import { connect, type FrontDoorClient, type ServerFlags } from './front-door-client.js';

/** A recorded event as the API returns it. */
export interface EventJson {
  readonly id: string;
  readonly type: string;
  readonly recordedAt: string;
  readonly data: Record<string, unknown>;
}

export const eventLine = (e: EventJson): string => `  ${e.recordedAt}  ${e.type}  ${JSON.stringify(e.data)}`;

/**
 * A command that talks to `failsafe serve` through its front door. `run` gets a connected client,
 * then the command's arguments and options, as commander passes them. A command for a new
 * operation is this plus one `client.call(...)`.
 */
export function clientCommand<A extends unknown[]>(
  command: Command,
  run: (client: FrontDoorClient, ...args: A) => Promise<void>,
): Command {
  return command
    .option('--url <url>', 'the Failsafe server (env FAILSAFE_URL, else the one `failsafe login` saved)')
    .action(
      action(async (...args: unknown[]) => {
        const flags = args.at(-2) as ServerFlags;
        await run(connect(flags), ...(args as A));
      }),
    );
}

export class TimedOut extends Error {
  readonly code = 'TIMED_OUT';
  constructor(what: string, seconds: number, url: string) {
    const where = `is \`failsafe serve --fleet <file>\` running at ${url}? \`failsafe status\` shows where it stands`;
    super(`TimedOut: ${what} within ${seconds} s; ${where}`);
    this.name = 'TimedOut';
  }
}

const POLL_MS = 500;

/**
 * Prints a service's events that `mine` selects as they are recorded (polling service_status, which
 * any role may read), until `done` says so; returns the event that ended the wait.
 */
export async function follow(
  client: FrontDoorClient,
  service: string,
  mine: (e: EventJson) => boolean,
  done: (e: EventJson) => boolean,
  seconds: number,
): Promise<EventJson> {
  const seen = new Set<string>();
  // A duration, not a time of day: performance.now() never jumps.
  const deadline = performance.now() + seconds * 1000;
  for (;;) {
    const found = (await client.call('service_status', { service, events: 100 })) as { recentEvents: EventJson[] };
    const { recentEvents } = found;
    for (const event of recentEvents) {
      if (seen.has(event.id) || !mine(event)) continue;
      seen.add(event.id);
      say(eventLine(event));
      if (done(event)) return event;
    }
    if (performance.now() > deadline) throw new TimedOut('nothing carried it out', seconds, client.url);
    await sleep(POLL_MS);
  }
}
