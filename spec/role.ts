// Which requirements apply to a node: from its Kubernetes labels when it has a role label, otherwise from
// what the host shows (a Jetson, a kube-apiserver manifest, an NVIDIA GPU, or a plain compute node). Every
// role decision of the program is made here: `resolveRole` for a node, `roleForHost` for `check --role auto`
// (the kubelet's own --node-labels, then the facts).
import { isRole } from '../report/constants.js';
import type { Facts, ProbeError, ProbeName, Role } from '../report/schema.js';
import type { RoleDecision } from './api.js';

export const NODE_TYPE_LABEL = 'node-type';
export const NODE_POOL_LABEL = 'osmo.nvidia.com/node-pool';
export const CONTROL_PLANE_LABEL = 'node-role.kubernetes.io/control-plane';

// Maps, not object literals: a label value like `constructor` must not find Object.prototype.
const NODE_TYPE_ROLES: ReadonlyMap<string, Role> = new Map<string, Role>([
  ['operator', 'operator'],
  ['compute', 'compute'],
  ['gpu', 'gpu'],
  ['jetson', 'jetson'],
]);
const NODE_POOL_ROLES: ReadonlyMap<string, Role> = new Map<string, Role>([
  ['control-plane', 'control-plane'],
  ['compute', 'compute'],
]);

/** NVIDIA GPUs on the host's PCI bus, or null when unknown (no `pci` fact: an older agent, or the probe failed). */
export function pciNvidiaGpus(facts: Facts): number | null {
  return facts.pci ? facts.pci.nvidiaGpus : null;
}

/** Whether the host has NVIDIA GPU hardware: nvidia-smi saw one, or the PCI bus shows one. */
export function hasNvidiaGpu(facts: Facts): boolean {
  return facts.gpu !== null || (pciNvidiaGpus(facts) ?? 0) > 0;
}

/**
 * Auto role, first match wins: Jetson → jetson; a kube-apiserver static pod manifest → control-plane;
 * an NVIDIA GPU (nvidia-smi, or only the PCI bus when the driver is missing or failing) → gpu; else compute.
 */
export function roleFromFacts(facts: Facts): RoleDecision {
  // Jetson first: the Jetson checks (arm64, JetPack) are what make such a board usable at all, and a
  // Jetson hosting the API server is a lab setup, not a backend to size as a control plane.
  if (facts.jetson) {
    const what = facts.jetson.board ?? (facts.jetson.l4tVersion ? `L4T ${facts.jetson.l4tVersion}` : null);
    return { role: 'jetson', source: 'facts', reason: what ? `Jetson found (${what})` : 'Jetson found' };
  }
  // Control plane before gpu: its minimums (12 cores, 24 GB, 200 GB free) are the stricter ones and apply
  // to the node whatever else it carries; judging it as a gpu node would skip them. A GPU on a
  // control-plane node is rare; `check --role gpu` judges its GPU on its own.
  if (facts.apiServerEncryption?.manifestFound === true) {
    return { role: 'control-plane', source: 'facts', reason: 'kube-apiserver static pod manifest found' };
  }
  if (facts.gpu) {
    const first = facts.gpu.devices[0]?.name;
    const n = facts.gpu.devices.length;
    const what = first ? ` (${n > 1 ? `${n}× ` : ''}${first})` : '';
    return { role: 'gpu', source: 'facts', reason: `NVIDIA GPU found${what}` };
  }
  // No usable nvidia-smi (no driver, or the probe failed) but the hardware is there: still a gpu node, so
  // its GPU checks fail (no driver) or read `error` (probe failed) instead of being skipped as compute.
  const onPci = pciNvidiaGpus(facts) ?? 0;
  if (onPci > 0) {
    return {
      role: 'gpu',
      source: 'facts',
      reason: `${onPci} NVIDIA GPU(s) on the PCI bus, nvidia-smi not found/failing`,
    };
  }
  return { role: 'compute', source: 'facts', reason: 'no NVIDIA GPU or Jetson found' };
}

/**
 * Role from node labels, or null when none of the role labels is set (or set to an unknown value).
 * Precedence: the Kubernetes control-plane role label, then OSMO's `node-type`, then the node pool.
 */
export function roleFromLabels(labels: Readonly<Record<string, string>>): RoleDecision | null {
  const cp = Object.hasOwn(labels, CONTROL_PLANE_LABEL) ? labels[CONTROL_PLANE_LABEL] : undefined;
  if (cp !== undefined) return { role: 'control-plane', source: `label:${CONTROL_PLANE_LABEL}=${cp}` };
  const type = labels[NODE_TYPE_LABEL];
  const typeRole = typeof type === 'string' ? NODE_TYPE_ROLES.get(type) : undefined;
  if (typeRole) return { role: typeRole, source: `label:${NODE_TYPE_LABEL}=${type}` };
  const pool = labels[NODE_POOL_LABEL];
  const poolRole = typeof pool === 'string' ? NODE_POOL_ROLES.get(pool) : undefined;
  if (poolRole) return { role: poolRole, source: `label:${NODE_POOL_LABEL}=${pool}` };
  return null;
}

/**
 * The role `check --role auto` judges a host as, without the API: the labels the kubelet registers the
 * node with (its `--node-labels`, read on the host) when they name a role, else the facts. The source says
 * which decided: `kubelet:node-type=operator (/var/lib/kubelet/kubeadm-flags.env)`, or `facts`.
 */
export function roleForHost(facts: Facts): RoleDecision {
  const kubelet = facts.kubelet;
  const fromKubelet = kubelet ? roleFromLabels(kubelet.labels) : null;
  if (kubelet && fromKubelet) {
    const label = fromKubelet.source.replace(/^label:/, '');
    const file = label.startsWith(`${NODE_TYPE_LABEL}=`) ? kubelet.nodeTypeFile : null;
    return {
      role: fromKubelet.role,
      source: `kubelet:${label}`,
      reason: `the kubelet registers the node with --node-labels ${label}${file ? ` (${file})` : ''}`,
    };
  }
  return roleFromFacts(facts);
}

/** Our own role label's value when it is a role: the role we last wrote on the node. */
export function roleFromOwnLabel(
  labels: Readonly<Record<string, string>> | undefined,
  ownRoleLabel: string | undefined,
): Role | undefined {
  const value =
    labels && ownRoleLabel && Object.hasOwn(labels, ownRoleLabel) ? labels[ownRoleLabel] : undefined;
  return isRole(value) ? value : undefined;
}

/** Probes whose failure makes a role derived from facts meaningless (a timed-out nvidia-smi ≠ no GPU). */
export const ROLE_PROBES: ReadonlySet<ProbeName> = new Set<ProbeName>(['gpu', 'jetson', 'pci']);

/** What is known about a node when its role is decided; each caller passes what it has. */
export interface RoleEvidence {
  /** The node's Kubernetes labels, when the cluster knows the node. */
  labels?: Readonly<Record<string, string>> | undefined;
  /** The key of our own role label (`<prefix>role`), read from `labels`. */
  ownRoleLabel?: string | undefined;
  /** The report being evaluated: its facts and probe errors. */
  report?: { facts: Facts; probeErrors: readonly ProbeError[] } | undefined;
  /** The role of the node's previous evaluation; asked only when a role probe errored. */
  previous?: (() => Role | undefined) | undefined;
}

/**
 * The role of a node. Labels naming a role (roleFromLabels) win. With a report, the facts decide, except
 * when the gpu, jetson or pci probe errored in it: then the node keeps the role it had (the previous
 * evaluation's, else our own role label), so one nvidia-smi timeout does not move a GPU node into the compute
 * pool (role label, breaker pool, taint). Without a report (a node seen only in the cluster), our own role
 * label; null when nothing names a role.
 */
export function resolveRole(
  evidence: RoleEvidence & { report: NonNullable<RoleEvidence['report']> },
): RoleDecision;
export function resolveRole(evidence: RoleEvidence): RoleDecision | null;
export function resolveRole(evidence: RoleEvidence): RoleDecision | null {
  const { labels, ownRoleLabel, report } = evidence;
  const fromLabels = labels ? roleFromLabels(labels) : null;
  if (fromLabels) return fromLabels;
  if (!report) {
    const own = roleFromOwnLabel(labels, ownRoleLabel);
    return own ? { role: own, source: `label:${ownRoleLabel}=${own}` } : null;
  }
  const fromFacts = roleFromFacts(report.facts);
  const errored = report.probeErrors.find((e) => ROLE_PROBES.has(e.probe));
  if (!errored) return fromFacts;
  const source = `previous (${errored.probe} probe error)`;
  const previous = evidence.previous?.();
  if (previous)
    return { role: previous, source, reason: `kept from the previous evaluation: ${errored.message}` };
  const own = roleFromOwnLabel(labels, ownRoleLabel);
  if (own) return { role: own, source, reason: `kept from the ${ownRoleLabel} label: ${errored.message}` };
  return fromFacts;
}
