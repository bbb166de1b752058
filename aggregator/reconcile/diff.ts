// Desired state against the node as the informer sees it → at most one Node patch (labels, annotations,
// taints together) and one nodes/status patch (our condition only). Pure; null means "nothing to write".
import type { Names } from '../k8s/names.js';
import { conditionOf, type NodeTaint, type NodeView, rfc3339, timeMs } from '../k8s/node-view.js';
import type { DesiredCondition, DesiredNodeState } from './desired.js';
import { assertOwnableKey, formatManagedKeys, ownedKeys, sameKeys } from './ownership.js';

export interface DiffOptions {
  /** False until the node has reported since this process started: only add, never remove. */
  allowRemoval: boolean;
  /** False when the circuit breaker refuses a new taint. */
  taintAllowed: boolean;
  /** Our taint may be removed even before the node reported (an operator opted the node out). */
  taintRemovalForced?: boolean;
}

export interface NodePatchPlan {
  /** A merge patch body for the Node object. */
  body: {
    metadata: {
      labels?: Record<string, string | null>;
      annotations?: Record<string, string | null>;
      resourceVersion?: string;
    };
    spec?: { taints: NodeTaint[] };
  };
  summary: string[];
  taintAdded: boolean;
  taintRemoved: boolean;
}

export function hasOurTaint(node: NodeView | undefined, names: Names): boolean {
  return (node?.spec?.taints ?? []).some((t) => t.key === names.taintKey);
}

/** Does the taint on this node belong to us (recorded in managed-taints)? */
export function ownsTaint(node: NodeView | undefined, names: Names): boolean {
  return (
    hasOurTaint(node, names) &&
    ownedKeys(node?.metadata?.annotations?.[names.annotations.managedTaints], names).has(names.taintKey)
  );
}

function cleanTaint(t: NodeTaint): NodeTaint {
  const out: NodeTaint = { key: t.key, effect: t.effect };
  if (t.value !== undefined) out.value = t.value;
  if (t.timeAdded !== undefined)
    out.timeAdded = t.timeAdded instanceof Date ? rfc3339(t.timeAdded.getTime()) : t.timeAdded;
  return out;
}

interface LabelPlan {
  patch: Record<string, string | null>;
  /** Our label keys after the patch (for the managed-labels annotation). */
  owned: Set<string>;
}

/** Desired labels written, owned labels no longer desired removed (when allowed and not kept). */
function planLabels(
  labels: Record<string, string>,
  owned: Set<string>,
  desired: DesiredNodeState,
  names: Names,
  options: DiffOptions,
  summary: string[],
): LabelPlan {
  const patch: Record<string, string | null> = {};
  const next = new Set<string>();
  for (const [key, value] of Object.entries(desired.labels)) {
    assertOwnableKey(key, names);
    // A label with our key that we did not write (not recorded as ours) is foreign: left as it is.
    if (key in labels && !owned.has(key)) continue;
    next.add(key);
    if (labels[key] !== value) {
      patch[key] = value;
      summary.push(`label ${key}=${value}`);
    }
  }
  for (const key of owned) {
    if (key in desired.labels) continue;
    assertOwnableKey(key, names);
    if (!options.allowRemoval || desired.keepLabels.includes(key)) {
      next.add(key);
      continue;
    }
    if (key in labels) {
      patch[key] = null;
      summary.push(`remove label ${key}`);
    }
  }
  return { patch, owned: next };
}

interface TaintPlan {
  /** The whole new taint list, or undefined when the taints stay as they are. */
  taints: NodeTaint[] | undefined;
  /** Our taint keys after the patch (for the managed-taints annotation). */
  owned: Set<string>;
  added: boolean;
  removed: boolean;
}

/** Our taint added (when the breaker allows a new one) or removed (when allowed); others kept as they are. */
function planTaints(
  node: NodeView,
  owned: Set<string>,
  desired: DesiredNodeState,
  names: Names,
  options: DiffOptions,
  summary: string[],
): TaintPlan {
  // A whole list, edited from what the cache holds.
  const taints = (node.spec?.taints ?? []).map(cleanTaint);
  const plan: TaintPlan = { taints: undefined, owned: new Set(owned), added: false, removed: false };
  const ours = taints.filter((t) => t.key === names.taintKey);
  assertOwnableKey(names.taintKey, names);
  // A taint with our key that we did not write (not recorded as ours) is foreign: never adopted, rewritten
  // or removed, and ours is not added beside it.
  if (ours.length > 0 && !owned.has(names.taintKey)) return plan;
  if (desired.taint === 'present') {
    const wanted: NodeTaint = { key: names.taintKey, value: 'true', effect: desired.taintEffect };
    const exact = ours.length === 1 && ours[0]?.value === 'true' && ours[0]?.effect === desired.taintEffect;
    if (!exact && (ours.length === 0 ? options.taintAllowed : true)) {
      plan.taints = [...taints.filter((t) => t.key !== names.taintKey), wanted];
      plan.owned.add(names.taintKey);
      plan.added = ours.length === 0;
      summary.push(`taint ${names.taintKey}=true:${desired.taintEffect}`);
    }
  } else if (
    desired.taint === 'absent' &&
    (options.allowRemoval || options.taintRemovalForced === true) &&
    owned.has(names.taintKey)
  ) {
    if (ours.length > 0) {
      plan.taints = taints.filter((t) => t.key !== names.taintKey);
      plan.removed = true;
      summary.push(`remove taint ${names.taintKey}`);
    }
    plan.owned.delete(names.taintKey);
  }
  return plan;
}

export function planNodePatch(
  node: NodeView,
  desired: DesiredNodeState,
  names: Names,
  options: DiffOptions,
): NodePatchPlan | null {
  const annotations = node.metadata?.annotations ?? {};
  const summary: string[] = [];
  const ownedLabels = ownedKeys(annotations[names.annotations.managedLabels], names);
  const ownedTaints = ownedKeys(annotations[names.annotations.managedTaints], names);
  const labels = planLabels(node.metadata?.labels ?? {}, ownedLabels, desired, names, options, summary);
  const taints = planTaints(node, ownedTaints, desired, names, options, summary);

  // Ownership annotations.
  const annotationPatch: Record<string, string | null> = {};
  if (!sameKeys(ownedLabels, labels.owned) || annotations[names.annotations.managedLabels] === undefined) {
    annotationPatch[names.annotations.managedLabels] = formatManagedKeys(labels.owned);
  }
  if (!sameKeys(ownedTaints, taints.owned)) {
    annotationPatch[names.annotations.managedTaints] =
      taints.owned.size > 0 ? formatManagedKeys(taints.owned) : null;
  }
  for (const key of Object.keys(annotationPatch)) assertOwnableKey(key, names);
  if (Object.keys(annotationPatch).length > 0 && summary.length === 0) summary.push('ownership annotations');

  const body: NodePatchPlan['body'] = { metadata: {} };
  if (Object.keys(labels.patch).length > 0) body.metadata.labels = labels.patch;
  if (Object.keys(annotationPatch).length > 0) body.metadata.annotations = annotationPatch;
  if (taints.taints !== undefined) {
    body.spec = { taints: taints.taints };
    // Taints are a list replaced whole: guard it with the version we edited.
    if (node.metadata?.resourceVersion) body.metadata.resourceVersion = node.metadata.resourceVersion;
  }
  if (
    body.metadata.labels === undefined &&
    body.metadata.annotations === undefined &&
    body.spec === undefined
  ) {
    return null;
  }
  return { body, summary, taintAdded: taints.added, taintRemoved: taints.removed };
}

export interface StatusPatchPlan {
  body: {
    status: {
      conditions: Array<DesiredCondition & { lastHeartbeatTime: string; lastTransitionTime: string }>;
    };
  };
  summary: string;
  transition: boolean;
  heartbeatOnly: boolean;
}

/** The condition patch, or null when the condition is current and its heartbeat younger than the throttle. */
export function planStatusPatch(
  node: NodeView | undefined,
  desired: DesiredCondition,
  nowMs: number,
  heartbeatThrottleMs: number,
): StatusPatchPlan | null {
  const current = conditionOf(node, desired.type);
  const same =
    current !== undefined &&
    current.status === desired.status &&
    current.reason === desired.reason &&
    (current.message ?? '') === desired.message;
  const heartbeat = timeMs(current?.lastHeartbeatTime);
  if (same && heartbeat !== undefined && nowMs - heartbeat < heartbeatThrottleMs) return null;
  const statusChanged = current === undefined || current.status !== desired.status;
  const previousTransition = timeMs(current?.lastTransitionTime);
  const lastTransitionTime = rfc3339(
    statusChanged || previousTransition === undefined ? nowMs : previousTransition,
  );
  return {
    body: {
      status: {
        conditions: [
          {
            type: desired.type,
            status: desired.status,
            reason: desired.reason,
            message: desired.message,
            lastHeartbeatTime: rfc3339(nowMs),
            lastTransitionTime,
          },
        ],
      },
    },
    summary: same
      ? `heartbeat ${desired.type}`
      : `condition ${desired.type}=${desired.status} (${desired.reason})`,
    transition: statusChanged || current?.reason !== desired.reason,
    heartbeatOnly: same,
  };
}

/** Labels and taints with our keys that our ownership annotations do not record: someone else's. */
export function foreignKeys(
  node: NodeView | undefined,
  names: Names,
): { labels: string[]; taints: string[] } {
  const annotations = node?.metadata?.annotations ?? {};
  const ownedLabels = ownedKeys(annotations[names.annotations.managedLabels], names);
  const ownedTaints = ownedKeys(annotations[names.annotations.managedTaints], names);
  const ours = new Set(Object.values(names.labels));
  const labels = Object.keys(node?.metadata?.labels ?? {})
    .filter((k) => ours.has(k) && !ownedLabels.has(k))
    .sort();
  const taints = (node?.spec?.taints ?? [])
    .filter((t) => t.key === names.taintKey && !ownedTaints.has(t.key))
    .map((t) => `${t.key}${t.value !== undefined ? `=${t.value}` : ''}:${t.effect}`);
  return { labels, taints };
}
