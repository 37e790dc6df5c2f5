/** A stream's retention limits, as every adapter holds them. */
export interface RetentionLimits {
  readonly maxCount?: number | undefined;
  readonly maxAgeMs?: number | undefined;
}

/**
 * Whether a stream's trim is due: once a tenth of a limit is past (at least one event), so that
 * trims, and the archive's segments, come in batches. Reads hide what is past at once.
 * `pastCount`: events below the first revision maxCount keeps; `cutoffMs`: events recorded before
 * it are past maxAge.
 */
export function trimDue(limits: RetentionLimits, pastCount: number, oldestRecordedAtMs: number, cutoffMs: number) {
  const countDue = limits.maxCount !== undefined && pastCount >= Math.ceil(limits.maxCount / 10);
  const ageDue = limits.maxAgeMs !== undefined && oldestRecordedAtMs < cutoffMs - limits.maxAgeMs / 10;
  return countDue || ageDue;
}
