// Cluster-level checks for GET /api/v1/summary. Pure: the integration supplies the nodes' states, the
// cluster view and the StorageClass list (or the error listing them).
import type { CheckResult } from '../../report/schema.js';
import { roleFromLabels } from '../../spec/role.js';
import type { ClusterView, NodeState } from '../contracts.js';

const SOURCE = 'onprem-backend-requirements.rst';

export interface StorageClassView {
  name: string;
  annotations: Record<string, string>;
}

export interface ClusterCheckInput {
  states: NodeState[];
  cluster: ClusterView | null;
  /** null when the list failed (then `error` is set) or there is no cluster. */
  storageClasses: StorageClassView[] | null;
  storageClassError?: string;
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
  const out = new Set(input.states.filter((s) => s.role === role).map((s) => s.node));
  const cluster = input.cluster;
  if (cluster) {
    for (const name of cluster.nodeNames()) {
      if (roleFromLabels(cluster.labelsOf(name) ?? {})?.role === role) out.add(name);
    }
  }
  return [...out].sort();
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
  const nodes = nodesWithRole(input, 'control-plane');
  const ok = nodes.length >= 3;
  return check(
    'cluster.control-plane-ha',
    ok ? 'pass' : 'warn',
    `${nodes.length} control-plane node(s)${nodes.length > 0 ? `: ${nodes.join(', ')}` : ''}`,
    '>= 3 control-plane nodes',
    ok
      ? 'the control plane is highly available'
      : 'high availability is recommended: run 3 or more control-plane nodes',
    ok ? null : 'Add control-plane nodes so that 3 or more run (an odd number keeps etcd quorum).',
    'Control Plane, High availability',
  );
}

export function operatorNodes(input: ClusterCheckInput): CheckResult {
  const nodes = nodesWithRole(input, 'operator');
  const ok = nodes.length >= 1 && nodes.length <= 3;
  return check(
    'cluster.operator-nodes',
    ok ? 'pass' : 'warn',
    `${nodes.length} operator node(s)${nodes.length > 0 ? `: ${nodes.join(', ')}` : ''}`,
    '1 to 3 backend-operator nodes (label node-type=operator)',
    ok
      ? 'backend-operator nodes are present'
      : nodes.length === 0
        ? 'no backend-operator node found: dedicated nodes labelled node-type=operator are recommended'
        : 'more than 3 backend-operator nodes: 1 to 3 are recommended',
    ok ? null : 'Label 1 to 3 dedicated nodes with node-type=operator.',
    'Backend-Operator Nodes',
  );
}

export function defaultStorageClass(input: ClusterCheckInput): CheckResult {
  const expected = 'a StorageClass annotated storageclass.kubernetes.io/is-default-class: "true"';
  const source = 'Storage Requirements, Default StorageClass';
  if (input.storageClasses === null) {
    return check(
      'cluster.default-storageclass',
      input.cluster ? 'error' : 'skip',
      null,
      expected,
      input.cluster
        ? `could not list StorageClasses: ${input.storageClassError ?? 'unknown error'}`
        : 'no Kubernetes connection (standalone)',
      null,
      source,
    );
  }
  const defaults = input.storageClasses.filter(
    (sc) =>
      sc.annotations['storageclass.kubernetes.io/is-default-class'] === 'true' ||
      sc.annotations['storageclass.beta.kubernetes.io/is-default-class'] === 'true',
  );
  const ok = defaults.length > 0;
  return check(
    'cluster.default-storageclass',
    ok ? 'pass' : 'fail',
    ok
      ? `default: ${defaults.map((d) => d.name).join(', ')}`
      : `${input.storageClasses.length} StorageClass(es), none default`,
    expected,
    ok
      ? 'a default StorageClass exists'
      : 'no default StorageClass: PersistentVolumeClaims without a class will not bind',
    ok
      ? null
      : 'kubectl annotate storageclass <name> storageclass.kubernetes.io/is-default-class=true (or install a CSI driver that provides one)',
    source,
  );
}

export function runtimeVersion(input: ClusterCheckInput): CheckResult {
  const mismatches: string[] = [];
  let compared = 0;
  for (const s of input.states) {
    const agent = s.result?.facts.containerd?.version;
    const runtime = input.cluster?.runtimeVersionOf(s.node);
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

export function etcdEncryption(input: ClusterCheckInput): CheckResult {
  const cps = input.states.filter((s) => s.role === 'control-plane');
  const disabled: string[] = [];
  const enabled: string[] = [];
  const unknown: string[] = [];
  for (const s of cps) {
    const e = s.result?.facts.apiServerEncryption?.enabled;
    if (e === true) enabled.push(s.node);
    else if (e === false) disabled.push(s.node);
    else unknown.push(s.node);
  }
  const expected = 'kube-apiserver --encryption-provider-config with a non-identity first provider';
  const source = 'Security, Encryption at rest';
  if (disabled.length > 0) {
    return check(
      'cluster.etcd-encryption',
      'fail',
      `not enabled on: ${disabled.join(', ')}`,
      expected,
      `etcd encryption at rest is not enabled on ${disabled.join(', ')}`,
      'Configure an EncryptionConfiguration (e.g. aescbc or kms) and pass --encryption-provider-config to kube-apiserver.',
      source,
    );
  }
  if (enabled.length > 0 && unknown.length === 0) {
    return check(
      'cluster.etcd-encryption',
      'pass',
      `enabled on: ${enabled.join(', ')}`,
      expected,
      'etcd encryption at rest is enabled',
      null,
      source,
    );
  }
  return check(
    'cluster.etcd-encryption',
    'warn',
    unknown.length > 0 ? `unknown on: ${unknown.join(', ')}` : 'no control-plane report',
    expected,
    unknown.length > 0
      ? `unknown: could not read the kube-apiserver encryption configuration on ${unknown.join(', ')}`
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
    runtimeVersion(input),
    etcdEncryption(input),
  ];
}
