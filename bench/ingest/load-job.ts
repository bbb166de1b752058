// The job a load worker runs and what it reports back (shared by the bench and load-worker.ts).

export interface LoadJob {
  url: string;
  connections: number;
  durationS: number;
  /** Send exactly this many requests instead (duration ignored): one per node for a warm-up round. */
  amount?: number;
  overallRate?: number;
  /**
   * A report body with every node name replaced by NODE_PLACEHOLDER and its collection time by
   * COLLECTED_AT_PLACEHOLDER (each request gets the time it is sent, as an agent's heartbeat does).
   */
  template: string;
  nodes: string[];
  /** One token per node (ServiceAccount tokens), or a single shared token. */
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
  /** The load generator's own CPU time over the run ÷ its duration (1 = its core was saturated). */
  generatorCpuShare: number;
}

export const NODE_PLACEHOLDER = '__BENCH_NODE__';
export const COLLECTED_AT_PLACEHOLDER = '__BENCH_COLLECTED_AT__';
