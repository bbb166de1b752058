// Every Kubernetes object name the validator writes, derived from one configurable prefix. The
// reconciler, prune and the tests all take names from here; nothing else spells a key.
export const DEFAULT_LABEL_PREFIX = 'validator.osmo.nvidia.com/';
export const DEFAULT_CONDITION_PREFIX = 'osmo.nvidia.com/';
/** OSMO's validators require every condition prefix to end so (node_condition_prefix). */
export const REQUIRED_CONDITION_SUFFIX = 'osmo.nvidia.com/';

/**
 * Throws unless `prefix` is a DNS subdomain ending in `osmo.nvidia.com/` (e.g. `osmo.nvidia.com/`,
 * `site-a.osmo.nvidia.com/`): the condition type must be a qualified name, and OSMO refuses a
 * `node_conditions.prefix` that does not end in `osmo.nvidia.com/`.
 */
export function checkConditionPrefix(prefix: string): void {
  if (!prefix.endsWith(REQUIRED_CONDITION_SUFFIX)) {
    throw new Error(
      `condition prefix "${prefix}" must end in "${REQUIRED_CONDITION_SUFFIX}", as OSMO requires`,
    );
  }
  const domain = prefix.slice(0, -1);
  if (domain.length > 253 || !/^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,}$/.test(domain)) {
    throw new Error(`condition prefix "${prefix}" must be a DNS subdomain followed by "/"`);
  }
}

export interface Names {
  labelPrefix: string;
  labels: {
    conformant: string;
    role: string;
    driverVersion: string;
    cudaVersion: string;
    jetpackVersion: string;
    containerdVersion: string;
  };
  taintKey: string;
  conditionType: string;
  annotations: {
    managedLabels: string;
    managedTaints: string;
    /** Set by an operator to a time (RFC 3339): held transitions of the node that began before it are written. */
    acceptTransition: string;
    /** Set by an operator to "false": no taint of ours on this node (labels and condition still written). */
    taint: string;
    /** Set by an operator to "true": nothing is written to this node (maintenance). */
    paused: string;
  };
  /** The event source / field manager name. */
  component: string;
}

export function makeNames(
  labelPrefix = DEFAULT_LABEL_PREFIX,
  conditionPrefix = DEFAULT_CONDITION_PREFIX,
): Names {
  if (!/^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}\/$/.test(labelPrefix)) {
    throw new Error(`label prefix "${labelPrefix}" must be a DNS subdomain followed by "/"`);
  }
  if (/(^|\.)kubernetes\.io\/$/.test(labelPrefix) || /(^|\.)k8s\.io\/$/.test(labelPrefix)) {
    throw new Error(`label prefix "${labelPrefix}" is reserved by Kubernetes; choose your own domain`);
  }
  checkConditionPrefix(conditionPrefix);
  const p = labelPrefix;
  return {
    labelPrefix: p,
    labels: {
      conformant: `${p}conformant`,
      role: `${p}role`,
      driverVersion: `${p}driver-version`,
      cudaVersion: `${p}cuda-version`,
      jetpackVersion: `${p}jetpack-version`,
      containerdVersion: `${p}containerd-version`,
    },
    taintKey: `${p}nonconformant`,
    conditionType: `${conditionPrefix}BaselineNotMet`,
    annotations: {
      managedLabels: `${p}managed-labels`,
      managedTaints: `${p}managed-taints`,
      acceptTransition: `${p}accept-transition`,
      taint: `${p}taint`,
      paused: `${p}paused`,
    },
    component: 'osmo-node-validator',
  };
}
