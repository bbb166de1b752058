// The job a load worker runs and what it reports back (shared by the bench and load-worker.ts).

export interface LoadJob {
  url: string;
  connections: number;
  durationS: number;
  /** Send exactly this many requests instead (duration ignored): one per node for a warm-up round. */
  amount?: number;
  overallRate?: number;
  /** A report body with every node name replaced by NODE_PLACEHOLDER. */
  template: string;
  nodes: string[];
  /** One token per node (TokenReview), or a single shared token. */
  tokens: string[];
}

export interface LoadResult {
  rps: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latencyP50: number;
  latencyP99: number;
  latencyMax: number;
  durationS: number;
}

export const NODE_PLACEHOLDER = '__BENCH_NODE__';
