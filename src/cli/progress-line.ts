const count = new Intl.NumberFormat('en-US');

export interface ProgressSample {
  /** Items done in all, and by this run since it started. */
  readonly done: number;
  readonly doneThisRun: number;
  /** How far through the whole work, 0 to 1, now and when this run started (a resumed run starts past 0). */
  readonly fraction: number;
  readonly startFraction: number;
  readonly elapsedMs: number;
}

const duration = (ms: number): string => {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${(s / 3600).toFixed(1)} h`;
};

/** One line of progress for long work on stderr: how many, how fast, how far, and about how long is left. */
export function progressLine(what: string, sample: ProgressSample): string {
  const seconds = sample.elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(sample.doneThisRun / seconds) : 0;
  const gained = sample.fraction - sample.startFraction;
  const left = gained > 0 && sample.fraction < 1 ? (sample.elapsedMs * (1 - sample.fraction)) / gained : undefined;
  return (
    `${count.format(sample.done)} ${what} (${count.format(rate)}/s), ${(sample.fraction * 100).toFixed(1)} %` +
    (left === undefined ? '' : `, about ${duration(left)} left`)
  );
}
