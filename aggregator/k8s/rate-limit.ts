// Client-side API economy: a token bucket (QPS + burst) shared by every call, a pause all callers honour
// after a 429 Retry-After, and a small semaphore bounding concurrent node writes.
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export class TokenBucket {
  private tokens: number;
  private last: number;
  private pausedUntil = 0;
  private readonly qps: number;
  private readonly burst: number;
  private readonly clock: Clock;

  constructor(qps: number, burst: number, clock: Clock = realClock) {
    if (!(qps > 0) || !(burst >= 1)) throw new Error(`invalid rate limit: qps ${qps}, burst ${burst}`);
    this.qps = qps;
    this.burst = burst;
    this.clock = clock;
    this.tokens = burst;
    this.last = clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
  }

  /** Take a token without waiting; false when none is available or the bucket is paused. */
  tryTake(): boolean {
    if (this.clock.now() < this.pausedUntil) return false;
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Milliseconds until a token could be available. */
  waitMs(): number {
    const now = this.clock.now();
    if (now < this.pausedUntil) return this.pausedUntil - now;
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.qps) * 1000);
  }

  /** Wait for a token. Bounded: each wait is at most one refill interval or the pause. */
  async take(): Promise<void> {
    for (let i = 0; i < 10_000; i++) {
      if (this.tryTake()) return;
      await this.clock.sleep(Math.max(1, this.waitMs()));
    }
    throw new Error('rate limiter: gave up waiting for a token');
  }

  /** The server said Retry-After: every caller waits until then. */
  pauseFor(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.clock.now() + ms);
  }
}

export class Semaphore {
  private active = 0;
  private readonly waiters: Array<() => void> = [];
  private readonly limit: number;

  constructor(limit: number) {
    this.limit = Math.max(1, limit);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiters.shift()?.();
    }
  }

  get pending(): number {
    return this.waiters.length;
  }
}

/** Exponential backoff with full jitter, capped. `attempt` starts at 1. */
export function backoffMs(attempt: number, baseMs = 1000, maxMs = 300_000, random = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Parse a Retry-After header (seconds or HTTP date) into milliseconds, clamped to [0, maxMs]. */
export function retryAfterMs(header: string | undefined, nowMs: number, maxMs = 60_000): number | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const seconds = Number(header);
  let ms: number;
  if (Number.isFinite(seconds)) ms = seconds * 1000;
  else {
    const at = Date.parse(header);
    if (Number.isNaN(at)) return undefined;
    ms = at - nowMs;
  }
  return Math.min(maxMs, Math.max(0, Math.round(ms)));
}
