// The slim Node the informer caches: the few fields the reconciler and the cluster checks read. Objects
// come from the list (typed client, times as Date) and from the watch (raw JSON, times as strings), so
// times are read through `timeMs`.
export interface NodeTaint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: unknown;
}

export interface NodeConditionView {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastHeartbeatTime?: unknown;
  lastTransitionTime?: unknown;
}

export interface NodeView {
  metadata?: {
    name?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: { taints?: NodeTaint[] };
  status?: {
    conditions?: NodeConditionView[];
    nodeInfo?: { containerRuntimeVersion?: string };
    /** The node's addresses (`InternalIP`, `Hostname`, ...): the stable-IP cluster check reads them. */
    addresses?: Array<{ type: string; address: string }>;
  };
}

export function timeMs(value: unknown): number | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

/** Kubernetes times have second precision (RFC 3339). */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function conditionOf(node: NodeView | undefined, type: string): NodeConditionView | undefined {
  return node?.status?.conditions?.find((c) => c.type === type);
}

/**
 * One shared copy of each short string the cached Nodes repeat (label and annotation values, condition
 * reasons and messages, taint fields): every Node of a list or watch event arrives as its own parsed JSON,
 * so 5,000 nodes carry 5,000 copies of `amd64`, of our managed-labels annotation, of the kubelet's
 * condition messages. Bounded: when full it starts over (what was shared stays shared).
 */
export class StringInterner {
  private readonly table = new Map<string, string>();
  private readonly max: number;
  private readonly maxLength: number;

  constructor(max = 4096, maxLength = 1024) {
    this.max = max;
    this.maxLength = maxLength;
  }

  get size(): number {
    return this.table.size;
  }

  intern<T>(value: T): T {
    if (typeof value !== 'string' || value.length > this.maxLength) return value;
    const known = this.table.get(value);
    if (known !== undefined) return known as T;
    if (this.table.size >= this.max) this.table.clear();
    this.table.set(value, value);
    return value;
  }

  /** A copy of a string map with each value interned (keys are V8-internalized already). */
  record(map: Record<string, string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(map)) out[k] = this.intern(v);
    return out;
  }

  /** A copy of a plain object with each string field interned (one level). */
  fields<T extends object>(obj: T): T {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = this.intern(v);
    return out as T;
  }
}

export interface SlimOptions {
  /**
   * Keep only the condition of this type (ours). The kubelet's conditions (Ready, MemoryPressure, …) are
   * read by nothing here and are most of a slim Node's bytes.
   */
  conditionType?: string;
  /** Share repeated strings between the cached Nodes. */
  interner?: StringInterner;
}

/**
 * A copy of just the fields above. The informer caches every Node of the cluster; a real Node also carries
 * `status.images` (every image on the node), capacity, volumes… that nothing here reads.
 */
export function slimNode(node: NodeView, options: SlimOptions = {}): NodeView {
  const m = node.metadata;
  const s = options.interner ?? NO_INTERNING;
  const view: NodeView = {
    metadata: {
      ...(m?.name !== undefined && { name: m.name }),
      ...(m?.uid !== undefined && { uid: m.uid }),
      ...(m?.resourceVersion !== undefined && { resourceVersion: m.resourceVersion }),
      ...(m?.labels && { labels: s.record(m.labels) }),
      ...(m?.annotations && { annotations: s.record(m.annotations) }),
    },
  };
  if (node.spec?.taints) view.spec = { taints: node.spec.taints.map((t) => s.fields(t)) };
  const type = options.conditionType;
  const conditions = node.status?.conditions
    ?.filter((c) => type === undefined || c.type === type)
    .map((c) => s.fields(c));
  const runtime = node.status?.nodeInfo?.containerRuntimeVersion;
  const addresses = node.status?.addresses?.map((a) => ({ type: s.intern(a.type), address: a.address }));
  if ((conditions && conditions.length > 0) || runtime !== undefined || addresses) {
    view.status = {
      ...(conditions && conditions.length > 0 && { conditions }),
      ...(runtime !== undefined && { nodeInfo: { containerRuntimeVersion: s.intern(runtime) } }),
      ...(addresses && { addresses }),
    };
  }
  return view;
}

/** Copies without sharing: slimNode without an interner. */
const NO_INTERNING = new StringInterner(0, -1);
