import { Cron as Croner } from 'croner';
import { z } from 'zod';

/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week), evaluated in UTC, read by
 * croner: `*`, lists `1,15`, ranges `1-5`, steps `*\/10` and `0-30/5`, names (`mon`, `jan`), `L`, and
 * the usual `@monthly`-style names; either day field matches when both are restricted, as in Vixie
 * cron. Pure: the instant to start from is always given.
 */
export const MONTHLY = '0 3 1 * *';

export class InvalidCron extends Error {
  readonly code = 'INVALID_CRON';
  constructor(
    expression: string,
    readonly why: string,
  ) {
    super(
      `InvalidCron: "${expression}": ${why} (five fields: minute hour day-of-month month day-of-week, ` +
        `e.g. "${MONTHLY}" for 03:00 UTC on the 1st)`,
    );
    this.name = 'InvalidCron';
  }
}

export interface Cron {
  readonly expression: string;
  readonly schedule: Croner;
}

/** Any instant serves: a five-field expression repeats every few years, so one that fires at all fires after it. */
const REFERENCE = new Date('2000-01-01T00:00:00Z');

/** Reads an expression; one that is malformed, or that no date ever matches (`0 0 31 2 *`), is refused. */
export function parseCron(expression: string): Cron {
  const fields = expression.trim().split(/\s+/).length;
  if (!expression.trim().startsWith('@') && fields !== 5) throw new InvalidCron(expression, `has ${fields} fields`);
  let schedule: Croner;
  try {
    schedule = new Croner(expression.trim(), { timezone: 'UTC', mode: '5-part', paused: true });
  } catch (error) {
    throw new InvalidCron(expression, (error as Error).message.replace(/^CronPattern: /, ''));
  }
  if (schedule.nextRun(REFERENCE) === null)
    throw new InvalidCron(expression, 'no date ever matches it (such as the 31st of a month that has 30 days)');
  return { expression, schedule };
}

const MINUTE = 60_000;

/** The latest slot at or before `at` (slots are whole minutes), or undefined if none. */
export function previousSlot(cron: Cron, at: Date): Date | undefined {
  // croner counts runs strictly before its reference: one second past the minute includes the minute itself.
  const reference = new Date(Math.floor(at.getTime() / MINUTE) * MINUTE + 1000);
  return cron.schedule.previousRuns(1, reference)[0];
}

/** The first slot strictly after `at`. */
export function nextSlot(cron: Cron, at: Date): Date | undefined {
  return cron.schedule.nextRun(at) ?? undefined;
}

/** A schedule field in a file: the problem says why the expression was refused. */
export const cronExpression = z.string().superRefine((expression, context) => {
  try {
    parseCron(expression);
  } catch (error) {
    if (!(error instanceof InvalidCron)) throw error;
    context.addIssue({
      code: 'custom',
      message: `a cron expression (minute hour day-of-month month day-of-week, e.g. "${MONTHLY}"): ${error.why}`,
    });
  }
});
