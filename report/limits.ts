// The bounds of the report schema, as plain numbers with no imports: report/schema.ts builds its maxLength,
// maxItems and maxima from these, and the agent's probes check what they emit against the same numbers
// (they must not load typebox, see constants.ts). The aggregator rejects a whole report when one field
// breaks a bound, so a probe must never emit such a value.
//
// Within each block a name is a string field's maxLength, a name ending in `Items` a list's maxItems.

export const LIMITS = {
  /** maxLength of a short human string without a bound of its own (names, models, identifiers). */
  text: 256,
  /** Maximum of a count (cores, MiB, GPUs on the bus). */
  count: 1_000_000,
  /** Maximum of a byte count: the largest integer a JSON number carries exactly. */
  bytes: Number.MAX_SAFE_INTEGER,

  facts: { hostname: 256, diskItems: 16, registryItems: 32 },
  cpu: { arch: 64, model: 256 },
  disk: { path: 256, deviceName: 128, stack: 1024, blockDiskItems: 16, capacityNote: 1024 },
  os: { id: 64, versionId: 64, prettyName: 256, idLike: 64, idLikeItems: 16, kernelRelease: 256 },
  gpu: {
    driverVersion: 64,
    cudaVersion: 64,
    deviceItems: 64,
    compatPackage: 128,
    compatPath: 1024,
    compatItems: 16,
  },
  gpuDevice: { name: 256, uuid: 256, pciBusId: 64, migMode: 32, brand: 128 },
  containerToolkit: { binary: 64, version: 64 },
  jetson: { l4tVersion: 64, jetpackVersion: 64, jetpackPackageVersion: 128, cudaVersion: 64, board: 128 },
  containerd: { version: 64, raw: 512 },
  /** `latencyMs` is a maximum in milliseconds. */
  registry: { host: 256, endpoint: 256, error: 1024, latencyMs: 3_600_000, image: 256 },
  /** `url` is the configured --osmo-url. */
  osmo: { url: 2048, endpoint: 256, error: 1024 },
  dns: { nameserver: 128, nameserverItems: 16 },
  apiServerEncryption: {
    encryptionConfigPath: 1024,
    firstProvider: 64,
    resource: 256,
    resourceItems: 64,
    ruleItems: 32,
    unknownReason: 1024,
  },
  kubelet: { labelKey: 317, labelValue: 63, labelItems: 64, file: 1024 },
  probeError: { message: 2048 },
  report: { agentVersion: 64, collectedAt: 64, probeErrorItems: 32 },
  check: { id: 64, observed: 1024, expected: 1024, message: 2048, remediation: 4096, source: 512 },
  result: { roleSource: 128, specName: 256, specRevision: 256 },
} as const;
