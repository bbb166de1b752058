// The resource types the emulator serves, and where each lives in the REST path space.
import { COMMON_MERGE_KEYS, type MergeKeys, NODE_MERGE_KEYS } from './strategic-merge.js';

export interface ResourceDef {
  /** Path segment, e.g. `nodes`. */
  plural: string;
  kind: string;
  /** '' for the core group. */
  group: string;
  version: string;
  namespaced: boolean;
  /** Has a `/status` subresource: the main resource ignores status, `/status` changes only status. */
  hasStatus: boolean;
  mergeKeys: MergeKeys;
  /** Create-only, not stored (TokenReview). */
  virtual?: boolean;
}

export function apiVersionOf(def: ResourceDef): string {
  return def.group ? `${def.group}/${def.version}` : def.version;
}

export function groupResource(def: ResourceDef): string {
  return def.group ? `${def.plural}.${def.group}` : def.plural;
}

export const RESOURCES: readonly ResourceDef[] = [
  {
    plural: 'nodes',
    kind: 'Node',
    group: '',
    version: 'v1',
    namespaced: false,
    hasStatus: true,
    mergeKeys: NODE_MERGE_KEYS,
  },
  {
    plural: 'pods',
    kind: 'Pod',
    group: '',
    version: 'v1',
    namespaced: true,
    hasStatus: true,
    mergeKeys: COMMON_MERGE_KEYS,
  },
  {
    plural: 'events',
    kind: 'Event',
    group: '',
    version: 'v1',
    namespaced: true,
    hasStatus: false,
    mergeKeys: COMMON_MERGE_KEYS,
  },
  {
    plural: 'secrets',
    kind: 'Secret',
    group: '',
    version: 'v1',
    namespaced: true,
    hasStatus: false,
    mergeKeys: COMMON_MERGE_KEYS,
  },
  {
    plural: 'configmaps',
    kind: 'ConfigMap',
    group: '',
    version: 'v1',
    namespaced: true,
    hasStatus: false,
    mergeKeys: COMMON_MERGE_KEYS,
  },
  {
    plural: 'namespaces',
    kind: 'Namespace',
    group: '',
    version: 'v1',
    namespaced: false,
    hasStatus: true,
    mergeKeys: COMMON_MERGE_KEYS,
  },
  {
    plural: 'events',
    kind: 'Event',
    group: 'events.k8s.io',
    version: 'v1',
    namespaced: true,
    hasStatus: false,
    mergeKeys: COMMON_MERGE_KEYS,
  },
  {
    plural: 'leases',
    kind: 'Lease',
    group: 'coordination.k8s.io',
    version: 'v1',
    namespaced: true,
    hasStatus: false,
    mergeKeys: COMMON_MERGE_KEYS,
  },
  {
    plural: 'storageclasses',
    kind: 'StorageClass',
    group: 'storage.k8s.io',
    version: 'v1',
    namespaced: false,
    hasStatus: false,
    mergeKeys: COMMON_MERGE_KEYS,
  },
  {
    plural: 'csidrivers',
    kind: 'CSIDriver',
    group: 'storage.k8s.io',
    version: 'v1',
    namespaced: false,
    hasStatus: false,
    mergeKeys: COMMON_MERGE_KEYS,
  },
  {
    plural: 'tokenreviews',
    kind: 'TokenReview',
    group: 'authentication.k8s.io',
    version: 'v1',
    namespaced: false,
    hasStatus: false,
    mergeKeys: COMMON_MERGE_KEYS,
    virtual: true,
  },
  {
    plural: 'subjectaccessreviews',
    kind: 'SubjectAccessReview',
    group: 'authorization.k8s.io',
    version: 'v1',
    namespaced: false,
    hasStatus: false,
    mergeKeys: COMMON_MERGE_KEYS,
    virtual: true,
  },
];

export function findResource(group: string, version: string, plural: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
}
