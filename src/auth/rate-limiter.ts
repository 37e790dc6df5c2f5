/** Token buckets, one per key (a token's name): `burst` requests at once, refilled at `perMinute`. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes `cost` requests from `key`'s bucket, all or none; when short, says in how many seconds they would be. */
  take(key: string, cost = 1): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) * this.perMinute) / 60_000);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return { allowed: true };
    }
    const missing = Math.min(cost, this.burst) - bucket.tokens;
    return { allowed: false, retryAfterSeconds: Math.ceil((missing * 60) / this.perMinute) };
  }
}
