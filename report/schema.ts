// The one report schema: the agent builds values of these types, the aggregator validates request bodies
// against the JSON Schema they compile to, and the OpenAPI document is generated from the same objects.
// Every object is closed (additionalProperties: false) so an unknown field is a named 400, not silently kept.
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { CHECK_STATUSES, PROBE_NAMES, ROLES, VERDICTS } from './constants.js';

// The plain lists live in constants.ts (no imports) so the agent can use them without loading typebox.
export {
  CHECK_STATUSES,
  type CheckStatus,
  PROBE_NAMES,
  type ProbeName,
  ROLES,
  type Role,
  VERDICTS,
  type Verdict,
} from './constants.js';

const closed = { additionalProperties: false } as const;
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
/** A short human string (names, versions, messages). Bounded so no report can carry megabytes in one field. */
const Str = (maxLength = 256) => Type.String({ maxLength });
const Count = () => Type.Integer({ minimum: 0, maximum: 1_000_000 });
const Bytes = () => Type.Integer({ minimum: 0, maximum: 2 ** 53 - 1 });

export const RoleSchema = Type.Union(ROLES.map((r) => Type.Literal(r)));

export const CpuFacts = Type.Object(
  {
    /** `x86_64`, `arm64` (uname's aarch64), or whatever uname -m prints. */
    arch: Str(64),
    /** Online logical CPUs: what the kubelet reports as capacity.cpu. */
    logicalCores: Count(),
    physicalCores: Nullable(Count()),
    model: Nullable(Str()),
  },
  closed,
);

export const MemoryFacts = Type.Object({ totalBytes: Bytes() }, closed);

export const DiskFacts = Type.Object(
  {
    /** Path on the host (not under the host root): `/` or `/var/lib/containerd`. */
    path: Str(),
    capacityBytes: Bytes(),
    freeBytes: Bytes(),
  },
  closed,
);

export const OsFacts = Type.Object(
  {
    id: Str(64),
    versionId: Nullable(Str(64)),
    prettyName: Nullable(Str()),
    idLike: Type.Array(Str(64), { maxItems: 16 }),
    kernelRelease: Nullable(Str()),
  },
  closed,
);

export const GpuDevice = Type.Object(
  {
    name: Str(),
    uuid: Str(),
    memoryMiB: Nullable(Count()),
    pciBusId: Nullable(Str(64)),
    migMode: Nullable(Str(32)),
  },
  closed,
);

export const ContainerToolkitFacts = Type.Object(
  {
    /** Which binary was found: nvidia-ctk or nvidia-container-runtime. */
    binary: Str(64),
    version: Nullable(Str(64)),
  },
  closed,
);

export const GpuFacts = Type.Object(
  {
    /** Exactly as the driver prints it, e.g. `535.216.03`. */
    driverVersion: Str(64),
    /** The CUDA version the driver supports (nvidia-smi's cuda_version), e.g. `12.2`; null when N/A. */
    cudaVersion: Nullable(Str(64)),
    devices: Type.Array(GpuDevice, { maxItems: 64 }),
    containerToolkit: Nullable(ContainerToolkitFacts),
  },
  closed,
);

export const JetsonFacts = Type.Object(
  {
    /** e.g. `36.4.3`, from /etc/nv_tegra_release; null when only soc0/family identified the Jetson. */
    l4tVersion: Nullable(Str(64)),
    /** From the L4T → JetPack table; null when the L4T release is not in it. */
    jetpackVersion: Nullable(Str(64)),
    /** The `nvidia-jetpack` package version from dpkg, when installed. */
    jetpackPackageVersion: Nullable(Str(128)),
    /** usr/local/cuda/version.json's cuda.version, when present. */
    cudaVersion: Nullable(Str(64)),
    board: Nullable(Str(128)),
  },
  closed,
);

export const ContainerdFacts = Type.Object(
  {
    /** Normalised upstream version: no leading v, no distro suffix. */
    version: Str(64),
    /** The line `containerd --version` printed, for the record. */
    raw: Str(512),
  },
  closed,
);

export const RegistryResult = Type.Object(
  {
    /** host[:port] as configured. */
    host: Str(),
    /** The host actually contacted (docker.io → registry-1.docker.io). */
    endpoint: Str(),
    reachable: Type.Boolean(),
    dnsResolved: Type.Boolean(),
    httpStatus: Nullable(Type.Integer({ minimum: 100, maximum: 599 })),
    latencyMs: Nullable(Type.Number({ minimum: 0, maximum: 3_600_000 })),
    error: Nullable(Str(1024)),
  },
  closed,
);

export const DnsFacts = Type.Object(
  {
    /** Nameservers from the host's etc/resolv.conf. */
    nameservers: Type.Array(Str(128), { maxItems: 16 }),
    /** Whether the node's own host name resolves. */
    hostnameResolves: Nullable(Type.Boolean()),
  },
  closed,
);

export const ApiServerEncryptionFacts = Type.Object(
  {
    /** Whether kube-apiserver.yaml was readable on this host at all. */
    manifestFound: Type.Boolean(),
    encryptionConfigPath: Nullable(Str(1024)),
    /** First provider of the first resource in the EncryptionConfiguration, e.g. `aescbc`, `identity`. */
    firstProvider: Nullable(Str(64)),
    /** true / false, or null when it could not be determined (never guessed). */
    enabled: Nullable(Type.Boolean()),
  },
  closed,
);

export const PciFacts = Type.Object(
  {
    /**
     * PCI devices with vendor 0x10de (NVIDIA) and a display/3D controller class (0x03xxxx), from the
     * host's sysfs: an NVIDIA GPU is there even when no driver (nvidia-smi) is installed or it fails.
     */
    nvidiaGpus: Count(),
  },
  closed,
);

export const Facts = Type.Object(
  {
    hostname: Nullable(Str()),
    cpu: Nullable(CpuFacts),
    memory: Nullable(MemoryFacts),
    disks: Type.Array(DiskFacts, { maxItems: 16 }),
    os: Nullable(OsFacts),
    gpu: Nullable(GpuFacts),
    jetson: Nullable(JetsonFacts),
    containerd: Nullable(ContainerdFacts),
    /** null when the probe was skipped (`--registries none`). */
    registries: Nullable(Type.Array(RegistryResult, { maxItems: 32 })),
    dns: Nullable(DnsFacts),
    /** null on hosts without a kube-apiserver static pod manifest probe (non control-plane). */
    apiServerEncryption: Nullable(ApiServerEncryptionFacts),
    /**
     * NVIDIA GPUs on the PCI bus, whatever the driver says; null when the probe failed. Optional: agents
     * older than the PCI probe do not send it, and absent means unknown.
     */
    pci: Type.Optional(Nullable(PciFacts)),
  },
  closed,
);

export const ProbeError = Type.Object(
  {
    probe: Type.Union(PROBE_NAMES.map((p) => Type.Literal(p))),
    /** `timeout`, `exec-failed`, `parse`, `read`, ... */
    kind: Str(32),
    message: Str(2048),
  },
  closed,
);

/** What an agent POSTs to /api/v1/reports. */
export const Report = Type.Object(
  {
    schemaVersion: Type.Literal(1),
    node: Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' }),
    agentVersion: Str(64),
    collectedAt: Type.String({ format: 'date-time', maxLength: 64 }),
    facts: Facts,
    probeErrors: Type.Array(ProbeError, { maxItems: 32 }),
  },
  closed,
);

export const CheckResult = Type.Object(
  {
    id: Str(64),
    status: Type.Union(CHECK_STATUSES.map((s) => Type.Literal(s))),
    observed: Nullable(Str(1024)),
    expected: Nullable(Str(1024)),
    message: Str(2048),
    remediation: Nullable(Str(4096)),
    /** The line of the OSMO requirements this check comes from. */
    source: Nullable(Str(512)),
  },
  closed,
);

/** The result of evaluating one host: `check --json` and `GET /api/v1/nodes/{name}`. */
export const NodeResult = Type.Object({
  node: Str(253),
  role: RoleSchema,
  /** How the role was decided: `flag`, `label:<key>`, or `facts` (auto). */
  roleSource: Str(128),
  verdict: Type.Union(VERDICTS.map((v) => Type.Literal(v))),
  facts: Facts,
  probeErrors: Type.Array(ProbeError),
  checks: Type.Array(CheckResult),
  collectedAt: Type.String(),
  evaluatedAt: Type.String(),
  /** The spec name and revision the checks were evaluated against. */
  spec: Type.Object({ name: Str(), revision: Str() }),
});

export type CpuFacts = Static<typeof CpuFacts>;
export type MemoryFacts = Static<typeof MemoryFacts>;
export type DiskFacts = Static<typeof DiskFacts>;
export type OsFacts = Static<typeof OsFacts>;
export type GpuDevice = Static<typeof GpuDevice>;
export type GpuFacts = Static<typeof GpuFacts>;
export type JetsonFacts = Static<typeof JetsonFacts>;
export type ContainerdFacts = Static<typeof ContainerdFacts>;
export type RegistryResult = Static<typeof RegistryResult>;
export type DnsFacts = Static<typeof DnsFacts>;
export type ApiServerEncryptionFacts = Static<typeof ApiServerEncryptionFacts>;
export type PciFacts = Static<typeof PciFacts>;
export type Facts = Static<typeof Facts>;
export type ProbeError = Static<typeof ProbeError>;
export type Report = Static<typeof Report>;
export type CheckResult = Static<typeof CheckResult>;
export type NodeResult = Static<typeof NodeResult>;
