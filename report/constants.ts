// The plain value lists of the report schema, with no imports: the agent's `check` and `agent` paths need
// ROLES and friends at run time, and importing them from report/schema.ts would load typebox (~18 MiB)
// on every node. report/schema.ts builds its typebox literals from these arrays and re-exports them.

export const ROLES = ['control-plane', 'operator', 'compute', 'gpu', 'jetson'] as const;
export type Role = (typeof ROLES)[number];

/** Whether a string (a role label's value, a configured role) names a role: the one check for every reader. */
export function isRole(value: string | undefined): value is Role {
  return value !== undefined && (ROLES as readonly string[]).includes(value);
}

export const PROBE_NAMES = [
  'hostname',
  'cpu',
  'memory',
  'disks',
  'os',
  'gpu',
  'jetson',
  'containerd',
  'registries',
  'dns',
  'apiServerEncryption',
  'pci',
  'kubelet',
  'osmo',
] as const;
export type ProbeName = (typeof PROBE_NAMES)[number];

/** Why a probe could not finish (ProbeError.kind): a closed list, so a consumer can branch on it. */
export const PROBE_ERROR_KINDS = [
  /** It did not answer within its bound (or a command it ran did not). */
  'timeout',
  /** A host command could not be started, or printed too much. */
  'exec-failed',
  /** A host command was found but is not executable. */
  'not-executable',
  /** A host file could not be read (other than not existing). */
  'read',
  /** Host output was not what the probe understands, or a value is beyond the schema's bounds. */
  'parse',
  /** Anything else: a bug in the probe. */
  'internal',
] as const;
export type ProbeErrorKind = (typeof PROBE_ERROR_KINDS)[number];

/** RegistryPull.status: what pulling a public image's manifest gave (report/schema.ts). */
export const PULL_STATUSES = ['ok', 'denied', 'not-found', 'blocked', 'not-tested'] as const;
export type PullStatus = (typeof PULL_STATUSES)[number];

export const CHECK_STATUSES = ['pass', 'warn', 'fail', 'skip', 'error'] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

export const VERDICTS = ['pass', 'warn', 'fail'] as const;
export type Verdict = (typeof VERDICTS)[number];
