// Which requirements apply to a node: from its Kubernetes labels when it has a role label, otherwise from
// what the hardware shows (a Jetson, an NVIDIA GPU, or a plain compute node).
import type { Facts, Role } from '../report/schema.js';
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

/** Auto role: Jetson facts → jetson; an NVIDIA GPU → gpu; otherwise compute. */
export function roleFromFacts(facts: Facts): RoleDecision {
  if (facts.jetson) {
    const what = facts.jetson.board ?? (facts.jetson.l4tVersion ? `L4T ${facts.jetson.l4tVersion}` : null);
    return { role: 'jetson', source: 'facts', reason: what ? `Jetson found (${what})` : 'Jetson found' };
  }
  if (facts.gpu) {
    const first = facts.gpu.devices[0]?.name;
    const n = facts.gpu.devices.length;
    const what = first ? ` (${n > 1 ? `${n}× ` : ''}${first})` : '';
    return { role: 'gpu', source: 'facts', reason: `NVIDIA GPU found${what}` };
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
