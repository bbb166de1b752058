// The one report schema: the agent builds values of these types, the aggregator validates request bodies
// against the JSON Schema they compile to, and the OpenAPI document is generated from the same objects.
// Every object is closed (additionalProperties: false) so an unknown field is a named 400, not silently kept.
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import {
  CHECK_STATUSES,
  PROBE_ERROR_KINDS,
  PROBE_NAMES,
  PULL_STATUSES,
  ROLES,
  VERDICTS,
} from './constants.js';
import {
  DNS_SUBDOMAIN_MAX_LENGTH,
  DNS_SUBDOMAIN_PATTERN,
  DNS_SUBDOMAIN_RULE,
  REGISTRY_HOST_PATTERN,
} from './grammars.js';
import { LIMITS } from './limits.js';

// The plain lists, limits and grammars live in constants.ts, limits.ts and grammars.ts (no package imports)
// so the agent can use them without loading typebox.
export {
  CHECK_STATUSES,
  type CheckStatus,
  PROBE_ERROR_KINDS,
  PROBE_NAMES,
  type ProbeErrorKind,
  type ProbeName,
  PULL_STATUSES,
  type PullStatus,
  ROLES,
  type Role,
  VERDICTS,
  type Verdict,
} from './constants.js';

const closed = { additionalProperties: false } as const;
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
/** A short human string (names, versions, messages). Bounded so no report can carry megabytes in one field. */
const Str = (maxLength: number) => Type.String({ maxLength });
const Count = () => Type.Integer({ minimum: 0, maximum: LIMITS.count });
const Bytes = () => Type.Integer({ minimum: 0, maximum: LIMITS.bytes });
const OneOf = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));

export const RoleSchema = OneOf(ROLES);

export const CpuFacts = Type.Object(
  {
    /** `x86_64`, `arm64` (uname's aarch64), or whatever uname -m prints. */
    arch: Str(LIMITS.cpu.arch),
    /** Online logical CPUs: what the kubelet reports as capacity.cpu. */
    logicalCores: Count(),
    physicalCores: Nullable(Count()),
    model: Nullable(Str(LIMITS.cpu.model)),
  },
  closed,
);

export const MemoryFacts = Type.Object({ totalBytes: Bytes() }, closed);

export const BlockDeviceFacts = Type.Object(
  {
    /** Kernel name: `sda2`, `nvme0n1p2`, `dm-0`, `md127`, `loop0`. */
    name: Str(LIMITS.disk.deviceName),
    kind: OneOf(['disk', 'partition', 'dm', 'md', 'stacked'] as const),
    bytes: Bytes(),
    /** The stack down to the disks, for people: `dm-0 (vg-root) → sda3 → sda`. */
    stack: Str(LIMITS.disk.stack),
  },
  closed,
);

export const DiskFacts = Type.Object(
  {
    /** Path on the host (not under the host root): `/` or the containerd root. */
    path: Str(LIMITS.disk.path),
    /** The filesystem's size (statfs, what df shows). */
    capacityBytes: Bytes(),
    /** Free space the filesystem offers to unprivileged writers (statfs bavail). */
    freeBytes: Bytes(),
    /**
     * The optional fields below come from agents that resolve the block device (older agents send none).
     * The device the filesystem is on; null when it could not be resolved (overlay, tmpfs, no sysfs).
     */
    blockDevice: Type.Optional(Nullable(BlockDeviceFacts)),
    /** The whole disks beneath the device, each once. */
    blockDisks: Type.Optional(
      Type.Array(Type.Object({ name: Str(LIMITS.disk.deviceName), bytes: Bytes() }, closed), {
        maxItems: LIMITS.disk.blockDiskItems,
      }),
    ),
    /** The size a disk-size requirement is measured on: the disk (or the device over several disks). */
    diskBytes: Type.Optional(Nullable(Bytes())),
    /** What `diskBytes` was measured on; `filesystem`: the device could not be resolved (diskBytes null). */
    capacitySource: Type.Optional(OneOf(['disk', 'device', 'filesystem'] as const)),
    /** One line: what was measured, or why the filesystem size stands in. */
    capacityNote: Type.Optional(Str(LIMITS.disk.capacityNote)),
  },
  closed,
);

export const OsFacts = Type.Object(
  {
    id: Str(LIMITS.os.id),
    versionId: Nullable(Str(LIMITS.os.versionId)),
    prettyName: Nullable(Str(LIMITS.os.prettyName)),
    idLike: Type.Array(Str(LIMITS.os.idLike), { maxItems: LIMITS.os.idLikeItems }),
    kernelRelease: Nullable(Str(LIMITS.os.kernelRelease)),
  },
  closed,
);

export const GpuDevice = Type.Object(
  {
    name: Str(LIMITS.gpuDevice.name),
    uuid: Str(LIMITS.gpuDevice.uuid),
    memoryMiB: Nullable(Count()),
    pciBusId: Nullable(Str(LIMITS.gpuDevice.pciBusId)),
    migMode: Nullable(Str(LIMITS.gpuDevice.migMode)),
    /** nvidia-smi's product_brand (`NVIDIA`, `Tesla`, `GeForce`, ...). Optional: older agents. */
    brand: Type.Optional(Nullable(Str(LIMITS.gpuDevice.brand))),
  },
  closed,
);

export const ContainerToolkitFacts = Type.Object(
  {
    /** Which binary was found: nvidia-ctk or nvidia-container-runtime. */
    binary: Str(LIMITS.containerToolkit.binary),
    version: Nullable(Str(LIMITS.containerToolkit.version)),
  },
  closed,
);

export const GpuFacts = Type.Object(
  {
    /** Exactly as the driver prints it, e.g. `535.216.03`. */
    driverVersion: Str(LIMITS.gpu.driverVersion),
    /** The CUDA version the driver supports (nvidia-smi's cuda_version), e.g. `12.2`; null when N/A. */
    cudaVersion: Nullable(Str(LIMITS.gpu.cudaVersion)),
    devices: Type.Array(GpuDevice, { maxItems: LIMITS.gpu.deviceItems }),
    containerToolkit: Nullable(ContainerToolkitFacts),
    /**
     * CUDA forward compatibility on the host (cuda-compat-X-Y, usr/local/cuda-X.Y/compat/libcuda.so.*), the
     * newest CUDA first; empty without it. `cudaVersion` above stays the driver's own. Optional: older agents.
     */
    cudaForwardCompat: Type.Optional(
      Type.Array(
        Type.Object(
          {
            cudaVersion: Str(LIMITS.gpu.cudaVersion),
            libcudaVersion: Nullable(Str(LIMITS.gpu.driverVersion)),
            package: Nullable(
              Type.Object(
                { name: Str(LIMITS.gpu.compatPackage), version: Str(LIMITS.gpu.compatPackage) },
                closed,
              ),
            ),
            libraryPath: Nullable(Str(LIMITS.gpu.compatPath)),
          },
          closed,
        ),
        { maxItems: LIMITS.gpu.compatItems },
      ),
    ),
  },
  closed,
);

/** What a Jetson's agent reads on the host. */
const jetsonHostFacts = {
  /** e.g. `36.4.3`, from /etc/nv_tegra_release; null when only soc0/family identified the Jetson. */
  l4tVersion: Nullable(Str(LIMITS.jetson.l4tVersion)),
  /** The `nvidia-jetpack` package version from dpkg, when installed. */
  jetpackPackageVersion: Nullable(Str(LIMITS.jetson.jetpackPackageVersion)),
  /** usr/local/cuda/version.json's cuda.version, when present. */
  cudaVersion: Nullable(Str(LIMITS.jetson.cudaVersion)),
  board: Nullable(Str(LIMITS.jetson.board)),
};
/** The JetPack release of `l4tVersion`, from the spec's L4T → JetPack table; null when it is not in it. */
const jetpackVersion = Nullable(Str(LIMITS.jetson.jetpackVersion));

/**
 * Jetson facts as an agent reports them. `jetpackVersion` is not the agent's to tell: the evaluation
 * derives it from the spec's table (spec/jetpack.ts). Agents before that change still send it; it is
 * accepted and replaced by the table's answer.
 */
export const JetsonFacts = Type.Object(
  { ...jetsonHostFacts, jetpackVersion: Type.Optional(jetpackVersion) },
  closed,
);

/** Jetson facts as evaluated (`check --json`, the API): `jetpackVersion` always present. */
export const EvaluatedJetsonFacts = Type.Object({ ...jetsonHostFacts, jetpackVersion }, closed);

export const ContainerdFacts = Type.Object(
  {
    /** Normalised upstream version: no leading v, no distro suffix. */
    version: Str(LIMITS.containerd.version),
    /** The line `containerd --version` printed, for the record. */
    raw: Str(LIMITS.containerd.raw),
  },
  closed,
);

/** What pulling a public image's manifest gave (the distribution token flow, anonymously). */
export const RegistryPull = Type.Object(
  {
    /** `repository:tag` tried; null when none is configured for this registry. */
    image: Nullable(Str(LIMITS.registry.image)),
    /**
     * ok: the manifest is readable; denied: 401/403 on the token or the manifest; not-found: 404 on the
     * manifest; blocked: the token endpoint or the manifest request failed on the network (DNS, TCP, TLS,
     * timeout); not-tested: no image, /v2/ unreachable, no Bearer challenge, or an answer that says nothing.
     */
    status: OneOf(PULL_STATUSES),
    /** The HTTP status of the step that decided it (token endpoint or manifest); null without one. */
    httpStatus: Nullable(Type.Integer({ minimum: 100, maximum: 599 })),
    error: Nullable(Str(LIMITS.registry.error)),
  },
  closed,
);

export const RegistryResult = Type.Object(
  {
    /** host[:port] as configured (report/grammars.ts). */
    host: Type.String({ maxLength: LIMITS.registry.host, pattern: REGISTRY_HOST_PATTERN }),
    /** The host actually contacted (docker.io → registry-1.docker.io). */
    endpoint: Str(LIMITS.registry.endpoint),
    reachable: Type.Boolean(),
    dnsResolved: Type.Boolean(),
    httpStatus: Nullable(Type.Integer({ minimum: 100, maximum: 599 })),
    latencyMs: Nullable(Type.Number({ minimum: 0, maximum: LIMITS.registry.latencyMs })),
    error: Nullable(Str(LIMITS.registry.error)),
    /** The image pull after /v2/. Optional: agents before the pull probe do not send it. */
    pull: Type.Optional(RegistryPull),
  },
  closed,
);

/** The OSMO service's URL (--osmo-url) as the node reaches it: any HTTP status over TLS is reachable. */
export const OsmoFacts = Type.Object(
  {
    url: Str(LIMITS.osmo.url),
    /** host[:port] contacted. */
    endpoint: Str(LIMITS.osmo.endpoint),
    reachable: Type.Boolean(),
    dnsResolved: Type.Boolean(),
    httpStatus: Nullable(Type.Integer({ minimum: 100, maximum: 599 })),
    latencyMs: Nullable(Type.Number({ minimum: 0, maximum: LIMITS.registry.latencyMs })),
    /** DNS, TCP, TLS or timeout: what failed. */
    error: Nullable(Str(LIMITS.osmo.error)),
  },
  closed,
);

export const DnsFacts = Type.Object(
  {
    /** Nameservers from the host's etc/resolv.conf. */
    nameservers: Type.Array(Str(LIMITS.dns.nameserver), { maxItems: LIMITS.dns.nameserverItems }),
    /** Whether the node's own host name resolves. */
    hostnameResolves: Nullable(Type.Boolean()),
  },
  closed,
);

export const ApiServerEncryptionFacts = Type.Object(
  {
    /** Whether kube-apiserver.yaml was readable on this host at all. */
    manifestFound: Type.Boolean(),
    encryptionConfigPath: Nullable(Str(LIMITS.apiServerEncryption.encryptionConfigPath)),
    /** First provider of the first resource in the EncryptionConfiguration, e.g. `aescbc`, `identity`. */
    firstProvider: Nullable(Str(LIMITS.apiServerEncryption.firstProvider)),
    /**
     * Secrets are written by a provider other than identity (every resources[] entry read, as the API
     * server reads them); false without the flag; null when it could not be determined (never guessed).
     */
    enabled: Nullable(Type.Boolean()),
    // Optional below: agents before the every-entry evaluation do not send them.
    /** The host file the flag's (in-container) path maps to through the pod's hostPath volumes. */
    hostConfigPath: Type.Optional(Str(LIMITS.apiServerEncryption.encryptionConfigPath)),
    /** Every resources[] entry in order: its resource names and its first (writing) provider. */
    rules: Type.Optional(
      Type.Array(
        Type.Object(
          {
            resources: Type.Array(Str(LIMITS.apiServerEncryption.resource), {
              maxItems: LIMITS.apiServerEncryption.resourceItems,
            }),
            provider: Str(LIMITS.apiServerEncryption.firstProvider),
          },
          closed,
        ),
        { maxItems: LIMITS.apiServerEncryption.ruleItems },
      ),
    ),
    /** How secrets are written and the configured name that decides it; null when no entry covers them. */
    secrets: Type.Optional(
      Nullable(
        Type.Object(
          {
            provider: Str(LIMITS.apiServerEncryption.firstProvider),
            matchedBy: Str(LIMITS.apiServerEncryption.resource),
          },
          closed,
        ),
      ),
    ),
    /** Each configured resource name whose writes are encrypted, with its provider. */
    encrypted: Type.Optional(
      Type.Array(
        Type.Object(
          {
            resource: Str(LIMITS.apiServerEncryption.resource),
            provider: Str(LIMITS.apiServerEncryption.firstProvider),
          },
          closed,
        ),
        { maxItems: LIMITS.apiServerEncryption.resourceItems },
      ),
    ),
    /** Why `enabled` is null: the file could not be read or understood. */
    unknownReason: Type.Optional(Str(LIMITS.apiServerEncryption.unknownReason)),
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

export const KubeletFacts = Type.Object(
  {
    /** Where the kubelet's command line came from: its systemd unit, or kubeadm's files without one. */
    commandFrom: OneOf(['systemd-unit', 'kubeadm-files'] as const),
    /** `node-type` as `--node-labels` registers it; null when no flag sets it. */
    nodeType: Nullable(Str(LIMITS.kubelet.labelValue)),
    /** The host file that set it. */
    nodeTypeFile: Nullable(Str(LIMITS.kubelet.file)),
    /** Every label `--node-labels` registers (repeated flags merged, the later key winning). */
    labels: Type.Record(Type.String(), Str(LIMITS.kubelet.labelValue), {
      maxProperties: LIMITS.kubelet.labelItems,
      propertyNames: { maxLength: LIMITS.kubelet.labelKey },
    }),
  },
  closed,
);

/** Facts as an agent reports them. */
export const Facts = Type.Object(
  {
    hostname: Nullable(Str(LIMITS.facts.hostname)),
    cpu: Nullable(CpuFacts),
    memory: Nullable(MemoryFacts),
    disks: Type.Array(DiskFacts, { maxItems: LIMITS.facts.diskItems }),
    os: Nullable(OsFacts),
    gpu: Nullable(GpuFacts),
    jetson: Nullable(JetsonFacts),
    containerd: Nullable(ContainerdFacts),
    /** null when the probe was skipped (`--registries none`). */
    registries: Nullable(Type.Array(RegistryResult, { maxItems: LIMITS.facts.registryItems })),
    dns: Nullable(DnsFacts),
    /** null on hosts without a kube-apiserver static pod manifest probe (non control-plane). */
    apiServerEncryption: Nullable(ApiServerEncryptionFacts),
    /**
     * NVIDIA GPUs on the PCI bus, whatever the driver says; null when the probe failed. Optional: agents
     * older than the PCI probe do not send it, and absent means unknown.
     */
    pci: Type.Optional(Nullable(PciFacts)),
    /** The kubelet's `--node-labels` under the host root; null without a kubelet. Optional: older agents. */
    kubelet: Type.Optional(Nullable(KubeletFacts)),
    /**
     * The OSMO service as the node reaches it; null when no --osmo-url is configured. Optional: agents
     * older than the osmo probe do not send it (osmo.reachable is then skip).
     */
    osmo: Type.Optional(Nullable(OsmoFacts)),
  },
  closed,
);

/** Facts as evaluated: a report's facts with what the spec derives from them (the JetPack release). */
export const EvaluatedFacts = Type.Object(
  { ...Facts.properties, jetson: Nullable(EvaluatedJetsonFacts) },
  closed,
);

export const ProbeError = Type.Object(
  {
    probe: OneOf(PROBE_NAMES),
    kind: OneOf(PROBE_ERROR_KINDS),
    message: Str(LIMITS.probeError.message),
  },
  closed,
);

/**
 * A node's name: a DNS-1123 subdomain (report/grammars.ts). The one schema of a node name: the report's
 * `node` and every route parameter naming a node (aggregator/server/schemas.ts).
 */
export const NodeNameSchema = Type.String({
  minLength: 1,
  maxLength: DNS_SUBDOMAIN_MAX_LENGTH,
  pattern: DNS_SUBDOMAIN_PATTERN,
  description: `a DNS-1123 subdomain, as Kubernetes names nodes: ${DNS_SUBDOMAIN_RULE}`,
});

/** What an agent POSTs to /api/v1/reports. */
export const Report = Type.Object(
  {
    schemaVersion: Type.Literal(1),
    node: NodeNameSchema,
    agentVersion: Str(LIMITS.report.agentVersion),
    collectedAt: Type.String({ format: 'date-time', maxLength: LIMITS.report.collectedAt }),
    facts: Facts,
    probeErrors: Type.Array(ProbeError, { maxItems: LIMITS.report.probeErrorItems }),
  },
  closed,
);

export const CheckResult = Type.Object(
  {
    id: Str(LIMITS.check.id),
    status: OneOf(CHECK_STATUSES),
    observed: Nullable(Str(LIMITS.check.observed)),
    expected: Nullable(Str(LIMITS.check.expected)),
    message: Str(LIMITS.check.message),
    remediation: Nullable(Str(LIMITS.check.remediation)),
    /** The line of the OSMO requirements this check comes from. */
    source: Nullable(Str(LIMITS.check.source)),
  },
  closed,
);

/** The result of evaluating one host: `check --json` and `GET /api/v1/nodes/{name}`. */
export const NodeResult = Type.Object({
  node: Str(DNS_SUBDOMAIN_MAX_LENGTH),
  role: RoleSchema,
  /** How the role was decided: `flag`, `label:<key>`, or `facts` (auto). */
  roleSource: Str(LIMITS.result.roleSource),
  verdict: OneOf(VERDICTS),
  /** The report's facts with the derived ones filled in (facts.jetson.jetpackVersion). */
  facts: EvaluatedFacts,
  probeErrors: Type.Array(ProbeError),
  checks: Type.Array(CheckResult),
  collectedAt: Type.String(),
  evaluatedAt: Type.String(),
  /** The spec name and revision the checks were evaluated against. */
  spec: Type.Object({ name: Str(LIMITS.result.specName), revision: Str(LIMITS.result.specRevision) }),
});

export type CpuFacts = Static<typeof CpuFacts>;
export type MemoryFacts = Static<typeof MemoryFacts>;
export type DiskFacts = Static<typeof DiskFacts>;
export type BlockDeviceFacts = Static<typeof BlockDeviceFacts>;
export type OsFacts = Static<typeof OsFacts>;
export type GpuDevice = Static<typeof GpuDevice>;
export type GpuFacts = Static<typeof GpuFacts>;
export type JetsonFacts = Static<typeof JetsonFacts>;
export type EvaluatedJetsonFacts = Static<typeof EvaluatedJetsonFacts>;
export type ContainerdFacts = Static<typeof ContainerdFacts>;
export type RegistryResult = Static<typeof RegistryResult>;
export type RegistryPull = Static<typeof RegistryPull>;
export type OsmoFacts = Static<typeof OsmoFacts>;
export type DnsFacts = Static<typeof DnsFacts>;
export type ApiServerEncryptionFacts = Static<typeof ApiServerEncryptionFacts>;
export type PciFacts = Static<typeof PciFacts>;
export type KubeletFacts = Static<typeof KubeletFacts>;
export type Facts = Static<typeof Facts>;
export type EvaluatedFacts = Static<typeof EvaluatedFacts>;
export type ProbeError = Static<typeof ProbeError>;
export type Report = Static<typeof Report>;
export type CheckResult = Static<typeof CheckResult>;
export type NodeResult = Static<typeof NodeResult>;
