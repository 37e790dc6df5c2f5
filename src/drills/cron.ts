/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week), evaluated in UTC:
 * `*`, lists `1,15`, ranges `1-5`, steps `*\/10` and `0-30/5`, and the usual `@monthly`-style names.
 * Pure: the instant to start from is always given.
 */
export const MONTHLY = '0 3 1 * *';

const NAMES: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 7 },
] as const;

export class InvalidCron extends Error {
  readonly code = 'INVALID_CRON';
  constructor(expression: string, why: string) {
    super(
      `InvalidCron: "${expression}": ${why} (five fields: minute hour day-of-month month day-of-week, ` +
        `e.g. "${MONTHLY}" for 03:00 UTC on the 1st)`,
    );
    this.name = 'InvalidCron';
  }
}

export interface Cron {
  readonly expression: string;
  readonly sets: readonly ReadonlySet<number>[];
  /** Whether day-of-month and day-of-week were both restricted (then either may match, as in Vixie cron). */
  readonly eitherDay: boolean;
}

export function parseCron(expression: string): Cron {
  const fields = (NAMES[expression.trim()] ?? expression).trim().split(/\s+/);
  if (fields.length !== 5) throw new InvalidCron(expression, `has ${fields.length} fields`);
  const sets = fields.map((field, i) => {
    const { name, min, max } = FIELDS[i]!;
    const values = new Set<number>();
    for (const part of field.split(',')) {
      const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
      if (!match) throw new InvalidCron(expression, `${name} "${part}" is not a number, range, list or step`);
      const from = match[1] === '*' ? min : Number(match[2]);
      const to =
        match[1] === '*' ? max : match[3] !== undefined ? Number(match[3]) : match[4] !== undefined ? max : from;
      const step = match[4] !== undefined ? Number(match[4]) : 1;
      if (from < min || to > max || from > to || step < 1)
        throw new InvalidCron(expression, `${name} "${part}" is outside ${min}-${max}`);
      for (let v = from; v <= to; v += step) values.add(i === 4 && v === 7 ? 0 : v);
    }
    return values;
  });
  return { expression, sets, eitherDay: fields[2] !== '*' && fields[4] !== '*' };
}

const matches = (cron: Cron, at: Date): boolean => {
  const [minute, hour, day, month, weekday] = cron.sets as [
    ReadonlySet<number>,
    ReadonlySet<number>,
    ReadonlySet<number>,
    ReadonlySet<number>,
    ReadonlySet<number>,
  ];
  if (!minute.has(at.getUTCMinutes()) || !hour.has(at.getUTCHours()) || !month.has(at.getUTCMonth() + 1)) return false;
  const dayOk = day.has(at.getUTCDate());
  const weekdayOk = weekday.has(at.getUTCDay());
  return cron.eitherDay ? dayOk || weekdayOk : dayOk && weekdayOk;
};

const MINUTE = 60_000;
/** Far enough for any expression that can fire at all (Feb 29 on a Monday comes within 28 years). */
const HORIZON = 366 * 24 * 60 * 29;

/** The latest slot at or before `at` (whole minutes), or undefined if none within the horizon. */
export function previousSlot(cron: Cron, at: Date): Date | undefined {
  let t = Math.floor(at.getTime() / MINUTE) * MINUTE;
  for (let i = 0; i < HORIZON; i += 1, t -= MINUTE) if (matches(cron, new Date(t))) return new Date(t);
  return undefined;
}

/** The first slot strictly after `at`. */
export function nextSlot(cron: Cron, at: Date): Date | undefined {
  let t = Math.floor(at.getTime() / MINUTE) * MINUTE + MINUTE;
  for (let i = 0; i < HORIZON; i += 1, t += MINUTE) if (matches(cron, new Date(t))) return new Date(t);
  return undefined;
}
