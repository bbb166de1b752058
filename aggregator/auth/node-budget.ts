// A small API-call budget per node: one token bucket per key (a node name, or the pod of a pre-1.30 token),
// so no node — and no flood of tokens — can spend another node's budget. Keys come only from tokens whose
// signature verified, so their number is bounded by the cluster's nodes; the map is bounded anyway.
import { type Clock, realClock, TokenBucket } from '../k8s/rate-limit.js';

/** A genuine agent needs about one TokenReview per token per cache period (5 min); this is ample. */
export const DEFAULT_NODE_BUDGET = { qps: 0.1, burst: 5 } as const;
const DEFAULT_MAX_KEYS = 20_000;

export interface NodeBudgetOptions {
  qps?: number;
  burst?: number;
  clock?: Clock;
  /** Buckets kept (least recently used dropped; a dropped bucket comes back full). Default 20,000. */
  maxKeys?: number;
}

export class NodeBudget {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly qps: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private readonly maxKeys: number;

  constructor(options: NodeBudgetOptions = {}) {
    this.qps = options.qps ?? DEFAULT_NODE_BUDGET.qps;
    this.burst = options.burst ?? DEFAULT_NODE_BUDGET.burst;
    this.clock = options.clock ?? realClock;
    this.maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    new TokenBucket(this.qps, this.burst, this.clock); // validates the rate once, at construction
  }

  /** Takes one call from `key`'s budget; otherwise says how long until one is available. */
  take(key: string): { ok: true } | { ok: false; retryAfterMs: number } {
    let bucket = this.buckets.get(key);
    if (bucket) this.buckets.delete(key);
    else bucket = new TokenBucket(this.qps, this.burst, this.clock);
    this.buckets.set(key, bucket);
    while (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next().value;
      if (oldest === undefined) break;
      this.buckets.delete(oldest);
    }
    return bucket.tryTake() ? { ok: true } : { ok: false, retryAfterMs: bucket.waitMs() };
  }

  get size(): number {
    return this.buckets.size;
  }
}
