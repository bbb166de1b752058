// Programmable failures: each rule matches requests by method and path and answers with an error Status
// (or a custom body), optionally after a delay, for a bounded number of times.
export interface FaultSpec {
  method?: string;
  /** Exact path, or a RegExp tested against the path (no query). */
  path?: string | RegExp;
  /** Only watch requests (true) or only non-watch requests (false); default both. */
  watch?: boolean;
  /** How many matching requests it hits (default 1; `Infinity` for all). */
  times?: number;
  /** HTTP status to answer with; omit for a delay-only fault (the request then proceeds normally). */
  status?: number;
  retryAfterSeconds?: number;
  delayMs?: number;
  /** Body to send instead of the default Status object. */
  body?: unknown;
  /** Reason in the Status object (default from the code, e.g. 429 → TooManyRequests). */
  reason?: string;
  message?: string;
}

export interface FaultHandle {
  /** Requests this rule has hit so far. */
  readonly hits: number;
  readonly remaining: number;
  cancel(): void;
}

export interface FaultRule extends FaultHandle {
  spec: FaultSpec;
}

export class FaultTable {
  private rules: { spec: FaultSpec; hits: number; remaining: number }[] = [];

  add(spec: FaultSpec): FaultHandle {
    const rule = { spec, hits: 0, remaining: spec.times ?? 1 };
    this.rules.push(rule);
    const rules = () => this.rules;
    return {
      get hits() {
        return rule.hits;
      },
      get remaining() {
        return rule.remaining;
      },
      cancel: () => {
        this.rules = rules().filter((r) => r !== rule);
      },
    };
  }

  /** The first live rule matching the request, consumed by one. */
  take(method: string, path: string, isWatch = false): FaultSpec | undefined {
    for (const rule of this.rules) {
      if (rule.remaining <= 0) continue;
      const s = rule.spec;
      if (s.method && s.method.toUpperCase() !== method) continue;
      if (s.watch !== undefined && s.watch !== isWatch) continue;
      if (s.path !== undefined && (typeof s.path === 'string' ? s.path !== path : !s.path.test(path)))
        continue;
      rule.remaining -= 1;
      rule.hits += 1;
      if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
      return s;
    }
    return undefined;
  }

  clear(): void {
    this.rules = [];
  }
}
