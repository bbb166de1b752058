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
 * A copy of just the fields above. The informer caches every Node of the cluster; a real Node also carries
 * `status.images` (every image on the node), capacity, volumes… that nothing here reads.
 */
export function slimNode(node: NodeView): NodeView {
  const m = node.metadata;
  const view: NodeView = {
    metadata: {
      ...(m?.name !== undefined && { name: m.name }),
      ...(m?.uid !== undefined && { uid: m.uid }),
      ...(m?.resourceVersion !== undefined && { resourceVersion: m.resourceVersion }),
      ...(m?.labels && { labels: m.labels }),
      ...(m?.annotations && { annotations: m.annotations }),
    },
  };
  if (node.spec?.taints) view.spec = { taints: node.spec.taints };
  const conditions = node.status?.conditions;
  const runtime = node.status?.nodeInfo?.containerRuntimeVersion;
  const addresses = node.status?.addresses?.map((a) => ({ type: a.type, address: a.address }));
  if (conditions || runtime !== undefined || addresses) {
    view.status = {
      ...(conditions && { conditions }),
      ...(runtime !== undefined && { nodeInfo: { containerRuntimeVersion: runtime } }),
      ...(addresses && { addresses }),
    };
  }
  return view;
}
