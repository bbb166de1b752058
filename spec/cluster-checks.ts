// Cluster-level checks for the aggregator's GET /api/v1/summary. Pure functions of plain inputs: the
// nodes' latest reports, the cluster's nodes (names, labels, kubelet-reported runtime), the StorageClass
// list (or the error listing it), and the thresholds of the spec's `cluster:` section.
import type { CheckResult, Facts, Role } from '../report/schema.js';
import { resolveRole } from './role.js';
import { type ClusterRules, DEFAULT_CLUSTER_RULES } from './spec-types.js';

const SOURCE = 'onprem-backend-requirements.rst';

/** A node's latest evaluation, as the store holds it. */
export interface ReportedNode {
  node: string;
  role: Role;
  /** null while the node has no result (a managed node that never reported). */
  facts: Facts | null;
}

/** A node as the cluster shows it. */
export interface ClusterNode {
  name: string;
  labels: Readonly<Record<string, string>>;
  /** The kubelet-reported container runtime, e.g. `containerd://1.7.27`. */
  runtimeVersion?: string | undefined;
  /** The node's `InternalIP` addresses (status.addresses); undefined when not known. */
  internalIPs?: readonly string[] | undefined;
}

export interface StorageClassInfo {
  name: string;
  annotations: Readonly<Record<string, string>>;
  /** A CSI driver's name, `kubernetes.io/no-provisioner`, an in-tree `kubernetes.io/...` provisioner. */
  provisioner: string;
}

export interface ClusterCheckInput {
  reports: readonly ReportedNode[];
  /** The cluster's nodes; null without a Kubernetes connection (standalone). */
  nodes: readonly ClusterNode[] | null;
  /** null when the list failed (then `storageClassError` is set) or there is no cluster. */
  storageClasses: readonly StorageClassInfo[] | null;
  storageClassError?: string | undefined;
  /** The cluster's CSIDriver names; null when that list failed (`csiDriverError`) or there is no cluster. */
  csiDrivers?: readonly string[] | null | undefined;
  csiDriverError?: string | undefined;
  /** The spec's `cluster:` section (default: the built-in baseline's numbers). */
  rules?: ClusterRules | undefined;
}

function check(
  id: string,
  status: CheckResult['status'],
  observed: string | null,
  expected: string | null,
  message: string,
  remediation: string | null,
  source: string,
): CheckResult {
  return { id, status, observed, expected, message, remediation, source: `${SOURCE}: ${source}` };
}

/** Nodes of a role: reported with it, or labelled so in the cluster. */
function nodesWithRole(input: ClusterCheckInput, role: 'control-plane' | 'operator'): string[] {
  const out = new Set(input.reports.filter((s) => s.role === role).map((s) => s.node));
  for (const node of input.nodes ?? []) {
    if (resolveRole({ labels: node.labels })?.role === role) out.add(node.name);
  }
  return [...out].sort();
}

function counted(nodes: readonly string[], what: string): string {
  return `${nodes.length} ${what}(s)${nodes.length > 0 ? `: ${nodes.join(', ')}` : ''}`;
}

/** `1 to 3`, `2` when both ends are the same, `at least 1` without an upper end. */
function range(min: number, max: number | undefined): string {
  if (max === undefined) return `at least ${min}`;
  return min === max ? `${min}` : `${min} to ${max}`;
}

/** `containerd://1.7.27`, `v1.7.27`, `1.7.27-1` → `1.7.27`; undefined when not containerd. */
export function containerdVersionOfRuntime(runtime: string): string | undefined {
  const m = /^containerd:\/\/v?(\d+(?:\.\d+)*)/.exec(runtime.trim());
  return m?.[1];
}

function normaliseVersion(v: string): string {
  return /^v?(\d+(?:\.\d+)*)/.exec(v.trim())?.[1] ?? v.trim();
}

export function controlPlaneHa(input: ClusterCheckInput): CheckResult {
  const min = (input.rules ?? DEFAULT_CLUSTER_RULES).controlPlaneHa.minNodes;
  const nodes = nodesWithRole(input, 'control-plane');
  const ok = nodes.length >= min;
  return check(
    'cluster.control-plane-ha',
    ok ? 'pass' : 'warn',
    counted(nodes, 'control-plane node'),
    `>= ${min} control-plane nodes`,
    ok
      ? 'the control plane is highly available'
      : `high availability is recommended: run ${min} or more control-plane nodes`,
    ok ? null : `Add control-plane nodes so that ${min} or more run (an odd number keeps etcd quorum).`,
    'Control Plane, High availability',
  );
}

function operatorMessage(count: number, min: number, max: number | undefined): string {
  if (count === 0 && min > 0) {
    return 'no backend-operator node found: dedicated nodes labelled node-type=operator are recommended';
  }
  if (count < min) return `fewer than ${min} backend-operator nodes: ${range(min, max)} are recommended`;
  if (max !== undefined && count > max) {
    return `more than ${max} backend-operator nodes: ${range(min, max)} are recommended`;
  }
  return count === 0
    ? 'no backend-operator node, and none is required'
    : 'backend-operator nodes are present';
}

export function operatorNodes(input: ClusterCheckInput): CheckResult {
  const { minNodes: min, maxNodes: max } = (input.rules ?? DEFAULT_CLUSTER_RULES).operatorNodes;
  const nodes = nodesWithRole(input, 'operator');
  const ok = nodes.length >= min && (max === undefined || nodes.length <= max);
  return check(
    'cluster.operator-nodes',
    ok ? 'pass' : 'warn',
    counted(nodes, 'operator node'),
    `${range(min, max)} backend-operator nodes (label node-type=operator)`,
    operatorMessage(nodes.length, min, max),
    ok ? null : `Label ${range(min, max)} dedicated node(s) with node-type=operator.`,
    'Backend-Operator Nodes',
  );
}

/**
 * Provisioners that create volumes on demand without a CSIDriver object: the in-tree cloud and storage
 * plugins (most now migrated to CSI, still accepted by name) and common external non-CSI provisioners.
 */
export const KNOWN_DYNAMIC_PROVISIONERS: ReadonlySet<string> = new Set([
  'kubernetes.io/aws-ebs',
  'kubernetes.io/gce-pd',
  'kubernetes.io/azure-disk',
  'kubernetes.io/azure-file',
  'kubernetes.io/cinder',
  'kubernetes.io/vsphere-volume',
  'kubernetes.io/portworx-volume',
  'kubernetes.io/rbd',
  'kubernetes.io/glusterfs',
  'rancher.io/local-path',
  'openebs.io/local',
  'k8s-sigs.io/nfs-subdir-external-provisioner',
]);
/** A StorageClass with this provisioner only binds pre-created (static) PersistentVolumes. */
export const NO_PROVISIONER = 'kubernetes.io/no-provisioner';

const isDefaultClass = (sc: StorageClassInfo) =>
  sc.annotations['storageclass.kubernetes.io/is-default-class'] === 'true' ||
  sc.annotations['storageclass.beta.kubernetes.io/is-default-class'] === 'true';

/** Whether a provisioner provisions dynamically: true, false (static only), or null (cannot tell). */
function dynamicProvisioner(provisioner: string, csiDrivers: readonly string[] | null): boolean | null {
  if (provisioner === NO_PROVISIONER) return false;
  if (KNOWN_DYNAMIC_PROVISIONERS.has(provisioner)) return true;
  if (csiDrivers === null) return null;
  return csiDrivers.includes(provisioner);
}

export function defaultStorageClass(input: ClusterCheckInput): CheckResult {
  const expected =
    'a default StorageClass (storageclass.kubernetes.io/is-default-class: "true") with a dynamic provisioner (an installed CSI driver or a known dynamic provisioner)';
  const source = 'Storage Requirements, Default StorageClass / Persistent volumes';
  const id = 'cluster.default-storageclass';
  if (input.storageClasses === null) {
    return check(
      id,
      input.nodes ? 'error' : 'skip',
      null,
      expected,
      input.nodes
        ? `could not list StorageClasses: ${input.storageClassError ?? 'unknown error'}`
        : 'no Kubernetes connection (standalone)',
      null,
      source,
    );
  }
  const defaults = input.storageClasses.filter(isDefaultClass);
  if (defaults.length === 0) {
    return check(
      id,
      'fail',
      `${input.storageClasses.length} StorageClass(es), none default`,
      expected,
      'no default StorageClass: PersistentVolumeClaims without a class will not bind',
      'kubectl annotate storageclass <name> storageclass.kubernetes.io/is-default-class=true (or install a CSI driver that provides one)',
      source,
    );
  }
  const csi = input.csiDrivers ?? null;
  const judged = defaults.map((d) => ({ d, dynamic: dynamicProvisioner(d.provisioner, csi) }));
  const observed = `default: ${judged.map(({ d }) => `${d.name} (${d.provisioner})`).join(', ')}`;
  if (judged.some((j) => j.dynamic === true)) {
    return check(
      id,
      'pass',
      observed,
      expected,
      'a default StorageClass with a dynamic provisioner exists',
      null,
      source,
    );
  }
  const unknown = judged.filter((j) => j.dynamic === null).map(({ d }) => d.provisioner);
  const message =
    unknown.length > 0
      ? `cannot tell whether ${unknown.join(', ')} provisions dynamically: could not list CSIDrivers (${input.csiDriverError ?? 'unknown error'})`
      : `the default StorageClass does not provision volumes dynamically (${judged
          .map(({ d }) =>
            d.provisioner === NO_PROVISIONER
              ? `${d.name}: ${NO_PROVISIONER}`
              : `${d.name}: no CSIDriver ${d.provisioner}`,
          )
          .join('; ')})`;
  return check(
    id,
    'warn',
    observed,
    expected,
    message,
    'Install a CSI driver with dynamic provisioning (or a dynamic provisioner such as local-path-provisioner) and make its StorageClass the default.',
    source,
  );
}

/** Every node has an InternalIP and no two share one (requirements: routable with stable IP addresses). */
export function stableIps(input: ClusterCheckInput): CheckResult {
  const id = 'cluster.stable-ips';
  const expected = 'every node has an InternalIP address, and no two nodes share one';
  const source = 'Networking Requirements, Node connectivity: stable IP addresses';
  if (!input.nodes) {
    return check(id, 'skip', null, expected, 'no Kubernetes connection (standalone)', null, source);
  }
  const missing: string[] = [];
  const owners = new Map<string, string[]>();
  for (const n of input.nodes) {
    const ips = n.internalIPs ?? [];
    if (ips.length === 0) missing.push(n.name);
    for (const ip of new Set(ips)) owners.set(ip, [...(owners.get(ip) ?? []), n.name]);
  }
  const shared = [...owners]
    .filter(([, names]) => names.length > 1)
    .map(([ip, names]) => `${ip}: ${names.sort().join(', ')}`);
  if (missing.length === 0 && shared.length === 0) {
    return check(
      id,
      'pass',
      `${input.nodes.length} node(s), each with its own InternalIP`,
      expected,
      'every node has its own InternalIP address',
      null,
      source,
    );
  }
  const problems = [
    ...(missing.length > 0 ? [`no InternalIP: ${missing.sort().join(', ')}`] : []),
    ...(shared.length > 0 ? [`shared InternalIP ${shared.join('; ')}`] : []),
  ].join('; ');
  return check(
    id,
    'warn',
    problems,
    expected,
    `nodes without a stable address of their own: ${problems}`,
    'Give every node a fixed, unique address (static IP or DHCP reservation) and make the kubelet report it (--node-ip).',
    source,
  );
}

export function runtimeVersion(input: ClusterCheckInput): CheckResult {
  const runtimes = new Map((input.nodes ?? []).map((n) => [n.name, n.runtimeVersion]));
  const mismatches: string[] = [];
  let compared = 0;
  for (const s of input.reports) {
    const agent = s.facts?.containerd?.version;
    const runtime = runtimes.get(s.node);
    if (!agent || !runtime) continue;
    compared++;
    const kubelet = containerdVersionOfRuntime(runtime);
    if (kubelet === undefined || kubelet !== normaliseVersion(agent)) {
      mismatches.push(`${s.node} (kubelet: ${runtime}, agent: containerd ${agent})`);
    }
  }
  const expected = "the kubelet's container runtime is the containerd the agent found";
  const source = 'containerd version';
  if (compared === 0) {
    return check(
      'cluster.runtime-version',
      'skip',
      null,
      expected,
      'no node has both a kubelet-reported runtime and an agent-reported containerd version',
      null,
      source,
    );
  }
  const ok = mismatches.length === 0;
  return check(
    'cluster.runtime-version',
    ok ? 'pass' : 'fail',
    ok ? `${compared} node(s) agree` : mismatches.join('; '),
    expected,
    ok
      ? 'every kubelet runs the containerd its agent reports'
      : `runtime mismatch on ${mismatches.length} node(s): ${mismatches.join('; ')}`,
    ok
      ? null
      : 'Make the kubelet use the host containerd (--container-runtime-endpoint) or upgrade/restart containerd.',
    source,
  );
}

/** One control plane's encryption at rest, for people: how secrets are written, what else is encrypted. */
function encryptionDetail(e: NonNullable<Facts['apiServerEncryption']>): string {
  if (e.encryptionConfigPath === null) return 'no --encryption-provider-config';
  if (e.enabled === null)
    return `unknown: ${e.unknownReason ?? 'the encryption configuration could not be read'}`;
  // Agents before the every-entry evaluation report only the first entry's provider.
  if (e.secrets === undefined) return `first provider ${e.firstProvider ?? 'unknown'}`;
  const secrets =
    e.secrets === null
      ? 'secrets: no entry (identity)'
      : `secrets: ${e.secrets.provider} (by "${e.secrets.matchedBy}")`;
  const others = (e.encrypted ?? []).map((x) => `${x.resource} (${x.provider})`);
  return others.length > 0 ? `${secrets}; encrypted: ${others.join(', ')}` : `${secrets}; nothing encrypted`;
}

export function etcdEncryption(input: ClusterCheckInput): CheckResult {
  const disabled: string[] = [];
  const enabled: string[] = [];
  const unknown: string[] = [];
  for (const s of input.reports) {
    if (s.role !== 'control-plane') continue;
    const e = s.facts?.apiServerEncryption;
    const line = e ? `${s.node} (${encryptionDetail(e)})` : `${s.node} (no kube-apiserver manifest read)`;
    // Older agents read only the first entry: their `true` may hide identity for secrets, so it is unknown.
    if (e?.enabled === true && e.secrets !== undefined) enabled.push(line);
    else if (e?.enabled === false) disabled.push(line);
    else
      unknown.push(e?.enabled === true ? `${s.node} (agent too old to read every resources[] entry)` : line);
  }
  const expected =
    'secrets written by a non-identity provider (kube-apiserver --encryption-provider-config, every resources[] entry)';
  const source = 'Security, Encryption at rest';
  if (disabled.length > 0) {
    return check(
      'cluster.etcd-encryption',
      'fail',
      `not enabled on: ${disabled.join('; ')}`,
      expected,
      `etcd encryption at rest of secrets is not enabled on ${disabled.join('; ')}`,
      'Configure an EncryptionConfiguration whose entry for secrets starts with a non-identity provider (e.g. aescbc or kms) and pass --encryption-provider-config to kube-apiserver.',
      source,
    );
  }
  if (enabled.length > 0 && unknown.length === 0) {
    return check(
      'cluster.etcd-encryption',
      'pass',
      `enabled on: ${enabled.join('; ')}`,
      expected,
      'etcd encryption at rest is enabled for secrets',
      null,
      source,
    );
  }
  return check(
    'cluster.etcd-encryption',
    'warn',
    unknown.length > 0 ? `unknown on: ${unknown.join('; ')}` : 'no control-plane report',
    expected,
    unknown.length > 0
      ? `unknown: could not read the kube-apiserver encryption configuration on ${unknown.join('; ')}`
      : 'unknown: could not read the kube-apiserver encryption configuration (no control-plane node has reported)',
    'Run the validator agent on control-plane nodes with the host root mounted so it can read kube-apiserver.yaml.',
    source,
  );
}

export function clusterCheckResults(input: ClusterCheckInput): CheckResult[] {
  return [
    controlPlaneHa(input),
    operatorNodes(input),
    defaultStorageClass(input),
    stableIps(input),
    runtimeVersion(input),
    etcdEncryption(input),
  ];
}
