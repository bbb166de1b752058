// The complete list of Kubernetes API calls the aggregator (and prune) make. The RBAC in manifests/ is
// tested against this list in both directions (test/manifests), and test/aggregator/k8s/api-calls.test.ts
// drives the real code against the API emulator and checks every request it makes is listed here and
// every entry here is used, so a new call must be added here first.
//
// Namespaced calls name the namespaces they are made in, so the manifests grant them with a Role in
// exactly those namespaces and never cluster-wide:
// - `$self` (SELF_NAMESPACE): the validator's own namespace. That is the aggregator's namespace
//   (POD_NAMESPACE for its Pod's Events, the namespace of --tls-bootstrap) and the agent ServiceAccount's
//   namespace (--agent-service-account, where its pods are read); the shipped manifests put both in
//   `osmo-node-validator`. An installation that separates them must grant `$self` rights in both.
// - any other string: that literal namespace (`default`: Events about Nodes, which are cluster-scoped).
// Non-resource URLs (KUBERNETES_NON_RESOURCE_CALLS) are granted by path, in the ClusterRole.
export const SELF_NAMESPACE = '$self';

export interface ApiCall {
  /** API group; '' is the core group. */
  group: string;
  /** Plural resource, `resource/subresource` for a subresource. */
  resource: string;
  verbs: string[];
  /** True for a namespaced resource: then `namespaces` lists where the calls are made. */
  namespaced: boolean;
  /** Namespaced calls only: `$self` and/or literal namespace names (see above). Absent for cluster scope. */
  namespaces?: readonly string[];
  why: string;
}

export const KUBERNETES_API_CALLS: readonly ApiCall[] = [
  {
    group: '',
    resource: 'nodes',
    verbs: ['get', 'list', 'watch', 'patch'],
    namespaced: false,
    why: 'informer, labels, taints, annotations; re-read after a conflict; prune',
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
    verbs: ['create'],
    namespaced: true,
    namespaces: ['default', SELF_NAMESPACE],
    why: 'default: Node events (verdict transitions, breaker warnings); $self: spec reload events on the aggregator Pod',
  },
  {
    group: 'authentication.k8s.io',
    resource: 'tokenreviews',
    verbs: ['create'],
    namespaced: false,
    why: 'agent authentication; read access (the bearer of a GET /api/v1/* or /metrics)',
  },
  {
    group: 'authorization.k8s.io',
    resource: 'subjectaccessreviews',
    verbs: ['create'],
    namespaced: false,
    why: 'read access: may the reader get results (or metrics) in validator.osmo.nvidia.com',
  },
  {
    group: '',
    resource: 'pods',
    verbs: ['get'],
    namespaced: true,
    namespaces: [SELF_NAMESPACE],
    why: "pre-1.30 token fallback: the agent pod's name/UID/nodeName, in the agent ServiceAccount's namespace",
  },
  {
    group: 'storage.k8s.io',
    resource: 'storageclasses',
    verbs: ['list'],
    namespaced: false,
    why: 'cluster check: default StorageClass',
  },
  {
    group: 'storage.k8s.io',
    resource: 'csidrivers',
    verbs: ['list'],
    namespaced: false,
    why: "cluster check: the default StorageClass's provisioner is an installed CSI driver (dynamic provisioning)",
  },
  {
    group: '',
    resource: 'secrets',
    verbs: ['get', 'create', 'update'],
    namespaced: true,
    namespaces: [SELF_NAMESPACE],
    why: 'TLS bootstrap: the serving certificate and CA',
  },
  {
    group: '',
    resource: 'configmaps',
    verbs: ['get', 'create', 'update'],
    namespaced: true,
    namespaces: [SELF_NAMESPACE],
    why: 'TLS bootstrap: the CA bundle agents mount',
  },
];

/** A non-resource URL the aggregator reads (RBAC `nonResourceURLs`, which only a ClusterRole can grant). */
export interface NonResourceCall {
  path: string;
  verbs: string[];
  why: string;
}

export const KUBERNETES_NON_RESOURCE_CALLS: readonly NonResourceCall[] = [
  {
    path: '/.well-known/openid-configuration',
    verbs: ['get'],
    why: 'agent authentication: the service-account issuer, to verify tokens locally before any TokenReview',
  },
  {
    path: '/openid/v1/jwks',
    verbs: ['get'],
    why: "agent authentication: the service-account issuer's public keys",
  },
];
