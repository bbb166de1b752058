// Every request the emulator answered, for assertions and benchmarks.
export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  /** Parsed JSON body when it was JSON, the raw text otherwise, undefined when empty. */
  body: unknown;
  status: number;
  /** Authorization bearer token the caller sent, if any. */
  token: string | undefined;
  /** True for requests that changed or tried to change stored state (not GET, not TokenReview). */
  write: boolean;
  at: number;
}

export class RequestLog {
  entries: LoggedRequest[] = [];
  private readonly limit: number;
  private writeCount = 0;
  private total = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  add(e: LoggedRequest): void {
    this.total += 1;
    if (e.write) this.writeCount += 1;
    this.entries.push(e);
    // Bounded: drop the oldest half when full (counters keep counting).
    if (this.entries.length > this.limit)
      this.entries = this.entries.slice(this.entries.length - this.limit / 2);
  }

  writes(): number {
    return this.writeCount;
  }

  count(): number {
    return this.total;
  }

  by(method: string | undefined, path?: string | RegExp): LoggedRequest[] {
    return this.entries.filter(
      (e) =>
        (!method || e.method === method.toUpperCase()) &&
        (path === undefined || (typeof path === 'string' ? e.path === path : path.test(e.path))),
    );
  }

  reset(): void {
    this.entries = [];
    this.writeCount = 0;
    this.total = 0;
  }
}
