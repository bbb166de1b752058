// The complete list of Kubernetes API calls the aggregator (and prune) make. The RBAC in manifests/ is
// tested against this list, so a new call must be added here first. `namespaced` calls are only made in
// the validator's own namespace (a Role, not a ClusterRole).
export interface ApiCall {
  group: string;
  resource: string;
  verbs: string[];
  namespaced: boolean;
  why: string;
}

export const KUBERNETES_API_CALLS: readonly ApiCall[] = [
  {
    group: '',
    resource: 'nodes',
    verbs: ['get', 'list', 'watch', 'patch'],
    namespaced: false,
    why: 'informer, labels, taints, annotations',
  },
  {
    group: '',
    resource: 'nodes/status',
    verbs: ['patch'],
    namespaced: false,
    why: 'the BaselineNotMet condition',
  },
  {
    group: '',
    resource: 'events',
    verbs: ['create', 'patch'],
    namespaced: false,
    why: 'verdict transitions, breaker warnings',
  },
  {
    group: 'authentication.k8s.io',
    resource: 'tokenreviews',
    verbs: ['create'],
    namespaced: false,
    why: 'agent authentication',
  },
  {
    group: '',
    resource: 'pods',
    verbs: ['get'],
    namespaced: false,
    why: 'pre-1.30 token fallback: pod name/UID/nodeName',
  },
  {
    group: 'storage.k8s.io',
    resource: 'storageclasses',
    verbs: ['list'],
    namespaced: false,
    why: 'cluster check: default StorageClass',
  },
  {
    group: '',
    resource: 'secrets',
    verbs: ['get', 'create', 'update'],
    namespaced: true,
    why: 'TLS bootstrap: the serving certificate and CA',
  },
  {
    group: '',
    resource: 'configmaps',
    verbs: ['get', 'create', 'update'],
    namespaced: true,
    why: 'TLS bootstrap: the CA bundle agents mount',
  },
];
