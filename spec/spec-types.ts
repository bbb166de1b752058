// The shape of a spec file (spec/baseline.yaml or `--spec FILE`). A spec is data: a list of checks, each
// one of a small closed set of rule types the evaluator knows, with parameters per role. A role without
// an entry in `roles` gets the check as `skip` ("not required for role X"), so every node reports the
// same list of check ids whatever its role.
import type { Role } from '../report/constants.js';
import type { VersionScheme } from './versions.js';

export const SPEC_API_VERSION = 'validator.osmo.nvidia.com/v1alpha1';
export const SPEC_KIND = 'NodeBaseline';

export const SEVERITIES = ['fail', 'warn'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const RULE_TYPES = [
  'oneOf',
  'minQuantity',
  'minVersion',
  'osRelease',
  'registries',
  'nodeLabel',
  'dnsResolution',
  'diskFilling',
  'osmoService',
] as const;

/** Facts a `oneOf` rule can read. */
export const ONE_OF_FACTS = ['cpu.arch'] as const;
export type OneOfFact = (typeof ONE_OF_FACTS)[number];

/** Facts a `minQuantity` rule can read: `disk.capacityBytes` is the disk holding `/` (its filesystem's size where the disk is unknown), `disk.freeBytes` the `/` filesystem's free space. */
export const QUANTITY_FACTS = [
  'cpu.logicalCores',
  'memory.totalBytes',
  'disk.capacityBytes',
  'disk.freeBytes',
] as const;
export type QuantityFact = (typeof QUANTITY_FACTS)[number];
/** Which quantity facts are byte counts (their `min` needs a unit); the others are plain counts. */
export const BYTE_FACTS: ReadonlySet<QuantityFact> = new Set([
  'memory.totalBytes',
  'disk.capacityBytes',
  'disk.freeBytes',
]);

/** Facts a `minVersion` rule can read. */
export const VERSION_FACTS = [
  'gpu.driverVersion',
  'gpu.cudaVersion',
  'jetson.jetpackVersion',
  'jetson.cudaVersion',
  'containerd.version',
] as const;
export type VersionFact = (typeof VERSION_FACTS)[number];

/** Parameters every rule accepts per role. */
export interface CommonRoleParams {
  /** Overrides the check's severity for this role. */
  severity?: Severity;
  /** Appended to the message when the check does not pass (e.g. the CUDA forward-compatibility caveat). */
  note?: string;
  /** Overrides the check's remediation for this role. */
  remediation?: string;
}

export interface OneOfParams extends CommonRoleParams {
  values: string[];
}
export interface MinQuantityParams extends CommonRoleParams {
  /** `24GB`, `24GiB` for byte facts; a plain integer for counts. */
  min: string | number;
}
export interface MinVersionParams extends CommonRoleParams {
  min: string;
  /** A major version at or above this is `warn` (e.g. containerd 2.x: newer than the validated line). */
  warnFromMajor?: number;
  /** Reads another fact for this role (e.g. Jetson reads CUDA from jetson.cudaVersion). */
  fact?: VersionFact;
  /** When the component is absent (no GPU, no containerd): `fail` (default) or `skip`. */
  whenAbsent?: 'fail' | 'skip';
  /** When the component is there but its version is unknown: `warn` (default) or `fail`. */
  whenUnknown?: 'warn' | 'fail';
}
export interface OsAccept {
  /** os-release ID, e.g. `ubuntu`. */
  id: string;
  /** Minimum VERSION_ID, compared as dotted numbers. */
  minVersion: string;
}
export interface OsReleaseParams extends CommonRoleParams {
  accept: OsAccept[];
  /** os-release IDs (matched against ID and ID_LIKE) that are `warn` instead of `fail`. */
  warnIds: string[];
}
export type EmptyParams = CommonRoleParams;

export type RoleMap<P> = Partial<Record<Role, P>>;

export interface CheckBase {
  /** Stable check id, e.g. `memory.total`. */
  id: string;
  description: string;
  severity: Severity;
  /** What to install or change when the check does not pass. */
  remediation: string;
  /** The line of the OSMO requirements this check comes from. */
  source: string;
}

export interface OneOfCheck extends CheckBase {
  rule: 'oneOf';
  fact: OneOfFact;
  roles: RoleMap<OneOfParams>;
}
export interface MinQuantityCheck extends CheckBase {
  rule: 'minQuantity';
  fact: QuantityFact;
  roles: RoleMap<MinQuantityParams>;
}
export interface MinVersionCheck extends CheckBase {
  rule: 'minVersion';
  fact: VersionFact;
  scheme: VersionScheme;
  roles: RoleMap<MinVersionParams>;
}
export interface OsReleaseCheck extends CheckBase {
  rule: 'osRelease';
  roles: RoleMap<OsReleaseParams>;
}
export interface RegistriesCheck extends CheckBase {
  rule: 'registries';
  roles: RoleMap<EmptyParams>;
}
export interface NodeLabelCheck extends CheckBase {
  rule: 'nodeLabel';
  roles: RoleMap<EmptyParams>;
}
export interface DnsResolutionCheck extends CheckBase {
  rule: 'dnsResolution';
  roles: RoleMap<EmptyParams>;
}

/** The OSMO service's URL is the agent's --osmo-url; the spec says what a node without one gets. */
export interface OsmoServiceParams extends CommonRoleParams {
  /** No --osmo-url configured on the agent: `skip` (default) or `fail` (the site requires the probe). */
  whenNotConfigured?: 'skip' | 'fail';
}
export interface OsmoServiceCheck extends CheckBase {
  rule: 'osmoService';
  roles: RoleMap<OsmoServiceParams>;
}

/** Free space before the kubelet's hard eviction: its defaults are nodefs 10 %, imagefs 15 %. */
export interface DiskFillingParams extends CommonRoleParams {
  /** Warn when `/` has less than this percentage of its filesystem free (kubelet nodefs.available). */
  nodefsMinFreePercent: number;
  /** Warn when containerd's root has less than this percentage free (kubelet imagefs.available). */
  imagefsMinFreePercent: number;
}
export interface DiskFillingCheck extends CheckBase {
  rule: 'diskFilling';
  roles: RoleMap<DiskFillingParams>;
}

export type SpecCheck =
  | OneOfCheck
  | MinQuantityCheck
  | MinVersionCheck
  | OsReleaseCheck
  | RegistriesCheck
  | NodeLabelCheck
  | DnsResolutionCheck
  | DiskFillingCheck
  | OsmoServiceCheck;

/**
 * Thresholds of the cluster-level checks (GET /api/v1/summary), the spec's `cluster:` section. Every field
 * is optional in a file; a missing one takes its value from DEFAULT_CLUSTER_RULES.
 */
export interface ClusterRules {
  /** `cluster.control-plane-ha`: warn below this many control-plane nodes. */
  controlPlaneHa: { minNodes: number };
  /**
   * `cluster.operator-nodes`: warn below `minNodes` backend-operator nodes, and above `maxNodes` only when
   * a spec sets one (the requirements set no upper limit).
   */
  operatorNodes: { minNodes: number; maxNodes?: number };
}

/** The seed's numbers: 3+ control-plane nodes for high availability, dedicated backend-operator node(s). */
export const DEFAULT_CLUSTER_RULES: ClusterRules = {
  controlPlaneHa: { minNodes: 3 },
  operatorNodes: { minNodes: 1 },
};

export interface Spec {
  apiVersion: typeof SPEC_API_VERSION;
  kind: typeof SPEC_KIND;
  metadata: { name: string; revision: string; description?: string };
  checks: SpecCheck[];
  /**
   * L4T release (`36.4.3`, as etc/nv_tegra_release gives it) → JetPack release (`6.2`): the evaluation
   * derives facts.jetson.jetpackVersion from it (spec/jetpack.ts). A spec file without it gets the
   * built-in baseline's table from parseSpec; absent here (a spec validated on its own) means no table.
   */
  l4tToJetpack?: Readonly<Record<string, string>>;
  cluster: ClusterRules;
}
