// Turns a validated spec into per-role closures once (thresholds parsed, sets built, expected strings
// formatted), so evaluating a report is only fact lookups and comparisons. The aggregator evaluates
// thousands of reports per second against the same spec; compileSpec is cached per spec object.
import { type ProbeName, ROLES, type Role } from '../report/constants.js';
import { LIMITS } from '../report/limits.js';
import type { EvaluatedFacts, Facts, ProbeError, RegistryResult } from '../report/schema.js';
import type { NodeLabelContext, RoleDecision } from './api.js';
import { isDataCenterBrand } from './gpu-brand.js';
import { type JetpackTable, jetpackTable, oldestL4tFor } from './jetpack.js';
import { formatBytes, parseByteQuantity } from './quantity.js';
import { hasNvidiaGpu, NODE_TYPE_LABEL, pciNvidiaGpus, roleFromLabels } from './role.js';
import {
  BYTE_FACTS,
  type CommonRoleParams,
  type DiskFillingCheck,
  type MinQuantityCheck,
  type MinVersionCheck,
  type OneOfCheck,
  type OsmoServiceCheck,
  type OsReleaseCheck,
  type QuantityFact,
  type Severity,
  type Spec,
  type SpecCheck,
  type VersionFact,
} from './spec-types.js';
import { compareParsed, type ParsedVersion, parseVersion, type VersionScheme } from './versions.js';

export interface EvalContext {
  /** The report's facts with the derived ones filled in (spec/jetpack.ts). */
  facts: EvaluatedFacts;
  /** Probe errors by probe; empty when every probe finished. */
  errors: ReadonlyMap<ProbeName, ProbeError>;
  role: RoleDecision;
  labels: NodeLabelContext | undefined;
}

/** `unmet` becomes the check's severity (fail or warn) for the role. */
export type OutcomeStatus = 'pass' | 'unmet' | 'warn' | 'skip' | 'error';
export interface Outcome {
  status: OutcomeStatus;
  observed: string | null;
  message: string;
}

export interface CompiledRoleCheck {
  /** Probes whose facts the check reads: an error in any of them makes the check `error`. */
  probes: readonly ProbeName[];
  expected: string | null;
  severity: Severity;
  note: string | null;
  remediation: string;
  run(ctx: EvalContext): Outcome;
}

export interface CompiledCheck {
  id: string;
  source: string;
  remediation: string;
  /** null: the role has no entry, the check is `skip`. */
  roles: Readonly<Record<Role, CompiledRoleCheck | null>>;
}

export interface CompiledSpec {
  spec: Spec;
  checks: readonly CompiledCheck[];
  /** The spec's L4T → JetPack table. */
  jetpack: JetpackTable;
}

const cache = new WeakMap<Spec, CompiledSpec>();

export function compileSpec(spec: Spec): CompiledSpec {
  let compiled = cache.get(spec);
  if (!compiled) {
    const jetpack = jetpackTable(spec.l4tToJetpack);
    compiled = { spec, checks: spec.checks.map((c) => compileCheck(c, jetpack)), jetpack };
    cache.set(spec, compiled);
  }
  return compiled;
}

function compileCheck(check: SpecCheck, jetpack: JetpackTable): CompiledCheck {
  const roles = {} as Record<Role, CompiledRoleCheck | null>;
  for (const role of ROLES) {
    const params = check.roles[role];
    if (!params) {
      roles[role] = null;
      continue;
    }
    const common = {
      severity: params.severity ?? check.severity,
      note: params.note ?? null,
      remediation: params.remediation ?? check.remediation,
    };
    roles[role] = { ...common, ...compileRule(check, role, params, jetpack) };
  }
  return { id: check.id, source: check.source, remediation: check.remediation, roles };
}

type RuleParts = Pick<CompiledRoleCheck, 'probes' | 'expected' | 'run'>;

function compileRule(
  check: SpecCheck,
  role: Role,
  params: CommonRoleParams,
  jetpack: JetpackTable,
): RuleParts {
  switch (check.rule) {
    case 'oneOf':
      return compileOneOf(check, role);
    case 'minQuantity':
      return compileMinQuantity(check, role);
    case 'minVersion':
      return compileMinVersion(check, role, jetpack);
    case 'osRelease':
      return compileOsRelease(check, role);
    case 'registries':
      return compileRegistries();
    case 'dnsResolution':
      return compileDns();
    case 'nodeLabel':
      return compileNodeLabel(role, params);
    case 'diskFilling':
      return compileDiskFilling(check, role);
    case 'osmoService':
      return compileOsmoService(check, role);
  }
}

const ARCH_ALIASES: Readonly<Record<string, string>> = { aarch64: 'arm64', amd64: 'x86_64', x64: 'x86_64' };
const normArch = (a: string) => (Object.hasOwn(ARCH_ALIASES, a) ? (ARCH_ALIASES[a] ?? a) : a);

function compileOneOf(check: OneOfCheck, role: Role): RuleParts {
  const values = check.roles[role]?.values ?? [];
  const allowed = new Set(values.map(normArch));
  return {
    probes: ['cpu'],
    expected: `one of ${values.join(', ')}`,
    run({ facts }) {
      if (!facts.cpu) return { status: 'error', observed: null, message: 'no CPU facts were collected' };
      const arch = facts.cpu.arch;
      if (allowed.has(normArch(arch)))
        return { status: 'pass', observed: arch, message: `architecture ${arch}` };
      return {
        status: 'unmet',
        observed: arch,
        message: `architecture ${arch} is not supported for role ${role} (${values.join(', ')})`,
      };
    },
  };
}

const QUANTITY_PROBES: Readonly<Record<QuantityFact, ProbeName>> = {
  'cpu.logicalCores': 'cpu',
  'memory.totalBytes': 'memory',
  'disk.capacityBytes': 'disks',
  'disk.freeBytes': 'disks',
};
const QUANTITY_NOUNS: Readonly<Record<QuantityFact, string>> = {
  'cpu.logicalCores': 'logical CPUs',
  'memory.totalBytes': 'memory',
  'disk.capacityBytes': 'for /',
  'disk.freeBytes': 'free on /',
};

function quantityFact(facts: Facts, fact: QuantityFact): number | null {
  switch (fact) {
    case 'cpu.logicalCores':
      return facts.cpu?.logicalCores ?? null;
    case 'memory.totalBytes':
      return facts.memory?.totalBytes ?? null;
    case 'disk.capacityBytes':
    case 'disk.freeBytes': {
      const root = facts.disks.find((d) => d.path === '/');
      if (!root) return null;
      return fact === 'disk.capacityBytes' ? (root.diskBytes ?? root.capacityBytes) : root.freeBytes;
    }
  }
}

/**
 * What `disk.capacity` saw on `/`: the disk (or device) size with the filesystem's beside it, or the
 * filesystem's alone, saying why (the device could not be resolved, or an older agent did not look).
 */
export function diskCapacityObserved(facts: Facts, show: (v: number) => string): string | null {
  const root = facts.disks.find((d) => d.path === '/');
  if (!root) return null;
  const fsText = `filesystem ${show(root.capacityBytes)}`;
  if (root.diskBytes !== undefined && root.diskBytes !== null) {
    const what = root.capacitySource === 'device' ? 'device' : 'disk';
    const name =
      root.capacitySource === 'device' ? root.blockDevice?.name : (root.blockDisks?.[0]?.name ?? null);
    return `${what}${name ? ` ${name}` : ''} ${show(root.diskBytes)} (${fsText})`;
  }
  // capacityNote reads `filesystem size (the disk could not be resolved: …)`: keep the reason.
  const note = root.capacityNote;
  const why = note
    ? (/^filesystem size \((.*)\)$/s.exec(note)?.[1] ?? note)
    : 'the agent did not resolve the disk';
  return `${fsText} (${why})`.slice(0, 1024);
}

function compileMinQuantity(check: MinQuantityCheck, role: Role): RuleParts {
  const fact = check.fact;
  const raw = check.roles[role]?.min ?? 0;
  const isBytes = BYTE_FACTS.has(fact);
  const q = typeof raw === 'string' ? parseByteQuantity(raw) : null;
  const min = q ? q.bytes : Number(raw);
  const binary = q?.binary ?? false;
  const noun = QUANTITY_NOUNS[fact];
  const expectedText = isBytes ? `≥ ${q?.text ?? String(raw)}` : `≥ ${min}`;
  const show = (v: number) => (isBytes ? formatBytes(v, binary) : String(v));
  return {
    probes: [QUANTITY_PROBES[fact]],
    expected: expectedText,
    run({ facts }) {
      const v = quantityFact(facts, fact);
      if (v === null) {
        const what = fact.startsWith('disk.')
          ? 'no disk facts for the root filesystem (/)'
          : `no ${noun} facts`;
        return { status: 'error', observed: null, message: `${what} were collected` };
      }
      const observed =
        fact === 'disk.capacityBytes' ? (diskCapacityObserved(facts, show) ?? show(v)) : show(v);
      if (v >= min) return { status: 'pass', observed, message: `${observed} ${noun} (${expectedText})` };
      return {
        status: 'unmet',
        observed,
        message: `${observed} ${noun}, below the ${isBytes ? q?.text : min} required for role ${role}`,
      };
    },
  };
}

type VersionLookup =
  | { kind: 'value'; text: string }
  | { kind: 'absent'; message: string }
  /** The hardware is there (NVIDIA GPUs on the PCI bus) but not the software that reports the version. */
  | { kind: 'noDriver'; gpus: number }
  | { kind: 'unknown'; observed: string; message: string };

const VERSION_PROBES: Readonly<Record<VersionFact, ProbeName>> = {
  'gpu.driverVersion': 'gpu',
  'gpu.cudaVersion': 'gpu',
  'jetson.jetpackVersion': 'jetson',
  'jetson.cudaVersion': 'jetson',
  'containerd.version': 'containerd',
};
const VERSION_NOUNS: Readonly<Record<VersionFact, string>> = {
  'gpu.driverVersion': 'NVIDIA driver',
  'gpu.cudaVersion': 'CUDA (as supported by the driver)',
  'jetson.jetpackVersion': 'JetPack',
  'jetson.cudaVersion': 'CUDA (JetPack)',
  'containerd.version': 'containerd',
};
const NO_GPU = 'no NVIDIA GPU driver found (nvidia-smi is missing or found no GPU)';
const NOT_JETSON = 'not a Jetson (no etc/nv_tegra_release)';

/** No nvidia-smi facts: `noDriver` when the PCI bus shows NVIDIA GPUs, else absent (unknown PCI = absent). */
function noGpuFacts(facts: Facts): VersionLookup {
  const gpus = pciNvidiaGpus(facts) ?? 0;
  return gpus > 0 ? { kind: 'noDriver', gpus } : { kind: 'absent', message: NO_GPU };
}

function versionFact(facts: EvaluatedFacts, fact: VersionFact): VersionLookup {
  switch (fact) {
    case 'gpu.driverVersion':
      return facts.gpu ? { kind: 'value', text: facts.gpu.driverVersion } : noGpuFacts(facts);
    case 'gpu.cudaVersion':
      if (!facts.gpu) return noGpuFacts(facts);
      if (facts.gpu.cudaVersion === null) {
        return { kind: 'unknown', observed: 'N/A', message: 'nvidia-smi reports no CUDA version (N/A)' };
      }
      return { kind: 'value', text: facts.gpu.cudaVersion };
    case 'jetson.jetpackVersion': {
      const j = facts.jetson;
      if (!j) return { kind: 'absent', message: NOT_JETSON };
      if (j.jetpackVersion !== null) return { kind: 'value', text: j.jetpackVersion };
      const l4t = j.l4tVersion ?? 'unknown';
      return {
        kind: 'unknown',
        observed: `L4T ${l4t}`,
        message:
          `the JetPack release of L4T ${l4t} is not known (nvidia-jetpack package: ` +
          `${j.jetpackPackageVersion ?? 'not installed'}); add the L4T release to the spec's l4tToJetpack table`,
      };
    }
    case 'jetson.cudaVersion':
      if (!facts.jetson) return { kind: 'absent', message: NOT_JETSON };
      if (facts.jetson.cudaVersion === null) {
        return { kind: 'absent', message: 'no CUDA found on this Jetson (usr/local/cuda/version.json)' };
      }
      return { kind: 'value', text: facts.jetson.cudaVersion };
    case 'containerd.version':
      return facts.containerd
        ? { kind: 'value', text: facts.containerd.version }
        : { kind: 'absent', message: 'containerd not found' };
  }
}

/**
 * containerd reports upstream pre-releases as `2.0.0-rc.3`; read as Debian that hyphen starts a revision
 * and sorts ABOVE 2.0.0. Written `2.0.0~rc.3` it sorts before the release, as upstream means. Older agents
 * sent either form; both compare right.
 */
export function containerdAsDebian(text: string): string {
  return text.replace(/^(\d+(?:\.\d+)*)-((?:rc|beta|alpha)\.?\d+)$/, '$1~$2');
}

/**
 * gpu.cuda when the driver's own CUDA is too old: CUDA forward compatibility (cuda-compat) providing the
 * required CUDA passes on data-center GPUs, is unmet on others (it does not apply to them), and warns when
 * a GPU's brand is unknown. null when no compat package or library provides the required CUDA.
 */
function forwardCompatOutcome(facts: EvaluatedFacts, min: ParsedVersion, driverCuda: string): Outcome | null {
  const gpu = facts.gpu;
  const compat = (gpu?.cudaForwardCompat ?? []).find((c) => {
    const v = parseVersion(c.cudaVersion, 'dotted');
    return v !== null && compareParsed(v, min) >= 0;
  });
  if (!gpu || !compat) return null;
  const via = compat.package
    ? `${compat.package.name} ${compat.package.version}`
    : (compat.libraryPath ?? 'cuda-compat');
  const observed = `${driverCuda} (driver); ${compat.cudaVersion} via forward compatibility (${via})`;
  const brands = gpu.devices.map((d) => d.brand ?? null);
  const dataCenter = brands.map(isDataCenterBrand);
  if (brands.length > 0 && dataCenter.every((d) => d === true)) {
    return {
      status: 'pass',
      observed,
      message:
        `CUDA ${compat.cudaVersion} is provided by the CUDA forward-compatibility package (${via}) on ` +
        `data-center GPUs (${[...new Set(brands)].join(', ')}); the driver itself supports CUDA ${driverCuda}`,
    };
  }
  const named = [...new Set(brands.map((b) => b ?? 'unknown brand'))].join(', ');
  if (dataCenter.some((d) => d === false)) {
    return {
      status: 'unmet',
      observed,
      message: `CUDA forward compatibility (${via}) is installed but applies only to data-center GPUs, not to ${named}; the driver supports CUDA ${driverCuda}`,
    };
  }
  return {
    status: 'warn',
    observed,
    message: `CUDA forward compatibility (${via}) provides CUDA ${compat.cudaVersion}, but whether these GPUs are data-center GPUs is unknown (${named}); the driver supports CUDA ${driverCuda}`,
  };
}

/** `l4t` when it is a release older than `oldest`; null when it is newer, equal, or not a release. */
function l4tOlderThan(l4t: string | null, oldest: string): string | null {
  const v = l4t === null ? null : parseVersion(l4t, 'dotted');
  const o = parseVersion(oldest, 'dotted');
  return v && o && compareParsed(v, o) < 0 ? l4t : null;
}

function compileMinVersion(check: MinVersionCheck, role: Role, jetpack: JetpackTable): RuleParts {
  const p = check.roles[role];
  const fact = p?.fact ?? check.fact;
  const scheme: VersionScheme = check.scheme;
  const minText = p?.min ?? '';
  const min = parseVersion(minText, scheme) as ParsedVersion; // validated at load
  const warnFromMajor = p?.warnFromMajor;
  const whenAbsent = p?.whenAbsent ?? 'fail';
  const whenUnknown = p?.whenUnknown ?? 'warn';
  const noun = VERSION_NOUNS[fact];
  const expected = `≥ ${minText}${warnFromMajor === undefined ? '' : ` (major ${warnFromMajor}+: warn)`}`;
  // An L4T release older than the oldest that carries the minimum JetPack fails even when the table does
  // not list it; only a newer unknown release is `whenUnknown`.
  const oldestL4t = fact === 'jetson.jetpackVersion' ? oldestL4tFor(jetpack, min) : null;
  return {
    probes: [VERSION_PROBES[fact]],
    expected,
    run({ facts }) {
      const found = versionFact(facts, fact);
      if (found.kind === 'noDriver') {
        // Not `whenAbsent`: the GPU is not absent, its driver is, so this fails even on a compute node.
        const need =
          fact === 'gpu.driverVersion'
            ? `install the NVIDIA driver ≥ ${minText}`
            : `no CUDA version is offered without the NVIDIA driver (CUDA ≥ ${minText} needs one)`;
        return {
          status: 'unmet',
          observed: `no driver (${found.gpus} NVIDIA GPU(s) on the PCI bus)`,
          message: `NVIDIA GPU(s) present on the PCI bus but nvidia-smi is missing: ${need}`,
        };
      }
      if (found.kind === 'absent') {
        return { status: whenAbsent === 'skip' ? 'skip' : 'unmet', observed: null, message: found.message };
      }
      if (found.kind === 'unknown') {
        const tooOld = oldestL4t === null ? null : l4tOlderThan(facts.jetson?.l4tVersion ?? null, oldestL4t);
        if (tooOld) {
          return {
            status: 'unmet',
            observed: found.observed,
            message: `L4T ${tooOld} is older than L4T ${oldestL4t}, the oldest release with JetPack ≥ ${minText}`,
          };
        }
        return {
          status: whenUnknown === 'warn' ? 'warn' : 'unmet',
          observed: found.observed,
          message: found.message,
        };
      }
      const comparable =
        fact === 'containerd.version' && scheme === 'debian' ? containerdAsDebian(found.text) : found.text;
      const v = parseVersion(comparable, scheme);
      if (!v) {
        return {
          status: 'error',
          observed: found.text,
          message: `cannot read ${noun} version ${JSON.stringify(found.text)} as a ${scheme} version`,
        };
      }
      if (compareParsed(v, min) < 0) {
        const compat = fact === 'gpu.cudaVersion' ? forwardCompatOutcome(facts, min, found.text) : null;
        return (
          compat ?? {
            status: 'unmet',
            observed: found.text,
            message: `${noun} ${found.text} is older than ${minText}`,
          }
        );
      }
      if (warnFromMajor !== undefined && v.major >= warnFromMajor) {
        return {
          status: 'warn',
          observed: found.text,
          message: `${noun} ${found.text} is major version ${v.major}, newer than the validated line (${minText})`,
        };
      }
      return {
        status: 'pass',
        observed: found.text,
        message: `${noun} ${found.text} meets the minimum ${minText}`,
      };
    },
  };
}

function compileOsRelease(check: OsReleaseCheck, role: Role): RuleParts {
  const p = check.roles[role];
  const accept = new Map<string, { text: string; min: ParsedVersion }>();
  for (const a of p?.accept ?? []) {
    accept.set(a.id, { text: a.minVersion, min: parseVersion(a.minVersion, 'dotted') as ParsedVersion });
  }
  const warnIds = new Set(p?.warnIds ?? []);
  const acceptText = [...accept].map(([id, a]) => `${id} ≥ ${a.text}`).join(' or ');
  // The warn list is long; the message names it when it matters.
  const expected = warnIds.size > 0 ? `${acceptText} (other enterprise Linux: warn)` : acceptText;
  return {
    probes: ['os'],
    expected,
    run({ facts }) {
      const os = facts.os;
      if (!os) return { status: 'error', observed: null, message: 'no os-release facts were collected' };
      const observed = os.prettyName ?? `${os.id} ${os.versionId ?? ''}`.trim();
      const a = accept.get(os.id);
      if (a) {
        const v = os.versionId === null ? null : parseVersion(os.versionId, 'dotted');
        if (!v)
          return {
            status: 'unmet',
            observed,
            message: `${os.id} VERSION_ID ${os.versionId ?? '(none)'} is not a version`,
          };
        if (compareParsed(v, a.min) < 0) {
          return { status: 'unmet', observed, message: `${os.id} ${os.versionId} is older than ${a.text}` };
        }
        return { status: 'pass', observed, message: `${os.id} ${os.versionId}` };
      }
      if (warnIds.has(os.id) || os.idLike.some((like) => warnIds.has(like))) {
        return {
          status: 'warn',
          observed,
          message: `${observed} is an equivalent enterprise Linux distribution, not the ${acceptText} OSMO validates on`,
        };
      }
      return {
        status: 'unmet',
        observed,
        message: `${observed} is not a supported distribution (${expected})`,
      };
    },
  };
}

/** One registry as observed: reachability, then the pull when one was tried. */
function registryObserved(r: RegistryResult): string {
  if (!r.reachable) return `${r.host}: unreachable`;
  const pull = r.pull;
  if (pull === undefined) return `${r.host}: reachable`; // an agent before the pull probe
  const image = pull.image === null ? '' : ` ${pull.image}`;
  if (pull.status === 'not-tested')
    return `${r.host}: reachable, pull${image} not tested (${pull.error ?? 'no reason given'})`;
  return `${r.host}: reachable, pull${image} ${pull.status}`;
}

const PULL_BLOCKED_HINT =
  '/v2/ answers but pulling is refused or cut off: a proxy or firewall that passes /v2/ but blocks ' +
  'manifest, blob or token requests (allow /v2/<repository>/manifests/ and /blobs/ and the token host, ' +
  'e.g. auth.docker.io, nvcr.io/proxy_auth), or a registry policy refusing anonymous pulls';

function compileRegistries(): RuleParts {
  return {
    probes: ['registries'],
    expected: 'all reachable; a public image pulls where tried',
    run({ facts }) {
      const regs = facts.registries;
      if (regs === null)
        return { status: 'skip', observed: null, message: 'registry probe skipped (--registries none)' };
      if (regs.length === 0)
        return { status: 'skip', observed: null, message: 'no registries configured to probe' };
      const observed = regs.map(registryObserved).join(', ').slice(0, LIMITS.check.observed);
      const down = regs.filter((r) => !r.reachable);
      const refused = regs.filter(
        (r) => r.reachable && (r.pull?.status === 'denied' || r.pull?.status === 'blocked'),
      );
      const missing = regs.filter((r) => r.reachable && r.pull?.status === 'not-found');
      const problems: string[] = [];
      if (down.length > 0) {
        const why = down.map((r) => `${r.host} (${r.error ?? (r.dnsResolved ? 'no answer' : 'DNS failed')})`);
        problems.push(`${down.length} of ${regs.length} registries unreachable: ${why.join(', ')}`);
      }
      if (refused.length > 0) {
        const why = refused.map((r) => `${r.host} (${r.pull?.status}: ${r.pull?.error ?? 'no detail'})`);
        problems.push(`pull failed on ${why.join(', ')}; ${PULL_BLOCKED_HINT}`);
      }
      if (problems.length > 0) return { status: 'unmet', observed, message: problems.join('; ') };
      if (missing.length > 0) {
        const which = missing.map((r) => `${r.host}/${r.pull?.image ?? '?'}`).join(', ');
        return {
          status: 'warn',
          observed,
          message: `registries reachable, but the image to pull does not exist: ${which}; name an existing public image in --registries (host/repository:tag)`,
        };
      }
      const pulled = regs.filter((r) => r.pull?.status === 'ok').length;
      const untested = regs.length - pulled;
      return {
        status: 'pass',
        observed,
        message:
          `${regs.length} registries reachable` +
          (pulled > 0 ? `, ${pulled} pulled` : '') +
          (untested > 0 ? `, ${untested} without a pull test` : ''),
      };
    },
  };
}

function compileOsmoService(check: OsmoServiceCheck, role: Role): RuleParts {
  const whenNotConfigured = check.roles[role]?.whenNotConfigured ?? 'skip';
  return {
    probes: ['osmo'],
    expected: 'the OSMO service URL answers over TLS',
    run({ facts }) {
      const osmo = facts.osmo;
      if (osmo === undefined) {
        return {
          status: 'skip',
          observed: null,
          message: 'not reported (an agent older than the osmo probe)',
        };
      }
      if (osmo === null) {
        const message = 'no OSMO URL configured (--osmo-url or OSMO_VALIDATOR_OSMO_URL on the agent)';
        return { status: whenNotConfigured === 'fail' ? 'unmet' : 'skip', observed: null, message };
      }
      if (osmo.reachable) {
        const observed = `${osmo.url}: HTTP ${osmo.httpStatus ?? '?'}`;
        return {
          status: 'pass',
          observed,
          message: `the OSMO service answers (HTTP ${osmo.httpStatus ?? '?'})`,
        };
      }
      const stage = !osmo.dnsResolved
        ? 'DNS'
        : /^(ECONN|EHOST|ENET|EPIPE|timeout)/.test(osmo.error ?? '')
          ? 'network'
          : 'TLS';
      const observed = `${osmo.url}: unreachable (${osmo.error ?? 'no answer'})`;
      return {
        status: 'unmet',
        observed,
        message: `the OSMO service at ${osmo.endpoint} is unreachable from the node (${stage}: ${osmo.error ?? 'no answer'})`,
      };
    },
  };
}

function compileDns(): RuleParts {
  return {
    probes: ['dns'],
    expected: 'a nameserver; host name resolves',
    run({ facts }) {
      const dns = facts.dns;
      if (!dns) return { status: 'skip', observed: null, message: 'DNS facts were not collected' };
      const ns =
        dns.nameservers.length === 0 ? 'no nameservers' : `nameservers ${dns.nameservers.join(', ')}`;
      const hn =
        dns.hostnameResolves === null
          ? 'host name not tested'
          : `host name ${dns.hostnameResolves ? 'resolves' : 'does not resolve'}`;
      const observed = `${ns}; ${hn}`;
      if (dns.nameservers.length === 0)
        return { status: 'unmet', observed, message: 'no nameserver in etc/resolv.conf' };
      if (dns.hostnameResolves === false) {
        return {
          status: 'unmet',
          observed,
          message: `the node's host name ${facts.hostname ?? ''} does not resolve`.replace('  ', ' '),
        };
      }
      if (dns.hostnameResolves === null) {
        // Never a pass: the lookup was not made (no getent on the host), so resolution is not shown.
        return {
          status: 'skip',
          observed,
          message: `${ns}, but the host name lookup was not tested (no getent under the host root)`,
        };
      }
      return { status: 'pass', observed, message: observed };
    },
  };
}

const LABELLED_HARDWARE = ['gpu', 'jetson'] as const;
const HARDWARE_ROLES: ReadonlySet<Role> = new Set(['compute', 'gpu', 'jetson']);

function compileNodeLabel(role: Role, _params: CommonRoleParams): RuleParts {
  const expectedLabel = role === 'control-plane' ? 'a role label' : `${NODE_TYPE_LABEL}=${role}`;
  return {
    // Reads gpu/jetson facts only when labels are known; probe errors are handled inside.
    probes: [],
    expected: expectedLabel,
    run({ facts, errors, labels }) {
      if (!labels) {
        return {
          status: 'skip',
          observed: null,
          message: 'node labels are not known here (the aggregator checks them)',
        };
      }
      const value = Object.hasOwn(labels.labels, NODE_TYPE_LABEL)
        ? labels.labels[NODE_TYPE_LABEL]
        : undefined;
      const observed = value === undefined ? `no ${NODE_TYPE_LABEL} label` : `${NODE_TYPE_LABEL}=${value}`;
      for (const hw of LABELLED_HARDWARE) {
        if (value !== hw) continue;
        const err = errors.get(hw);
        if (err)
          return { status: 'error', observed, message: `${hw} probe failed (${err.kind}): ${err.message}` };
        // A GPU without its driver still matches the label; gpu.driver reports the missing driver.
        if (hw === 'gpu' ? !hasNvidiaGpu(facts) : !facts[hw]) {
          const what = hw === 'gpu' ? 'no NVIDIA GPU was found' : 'it is not a Jetson';
          return { status: 'unmet', observed, message: `the node is labelled ${observed} but ${what}` };
        }
      }
      if (HARDWARE_ROLES.has(role)) {
        const found = facts.jetson ? 'jetson' : hasNvidiaGpu(facts) ? 'gpu' : null;
        if (found && value !== found) {
          const what = found === 'gpu' ? 'an NVIDIA GPU' : 'a Jetson';
          return {
            status: 'warn',
            observed,
            message: `the node has ${what} but is not labelled ${NODE_TYPE_LABEL}=${found}`,
          };
        }
      }
      if (roleFromLabels(labels.labels) === null) {
        return { status: 'warn', observed, message: 'the node has no role label; role taken from facts' };
      }
      return { status: 'pass', observed, message: `${observed} matches the node's hardware` };
    },
  };
}

/**
 * Free space of `/` (nodefs) and containerd's root (imagefs) against the kubelet's hard eviction
 * thresholds: below them the kubelet starts evicting pods, so this warns before it does. The percentages
 * are of the filesystem (statfs), as the kubelet measures them.
 */
function compileDiskFilling(check: DiskFillingCheck, role: Role): RuleParts {
  const p = check.roles[role];
  const nodefs = p?.nodefsMinFreePercent ?? 10;
  const imagefs = p?.imagefsMinFreePercent ?? 15;
  return {
    probes: ['disks'],
    expected: `/ ≥ ${nodefs}% free (nodefs), containerd root ≥ ${imagefs}% free (imagefs)`,
    run({ facts }) {
      const root = facts.disks.find((d) => d.path === '/');
      if (!root) return { status: 'error', observed: null, message: 'no disk facts for / were collected' };
      const entries = [
        { d: root, what: 'nodefs', min: nodefs },
        ...facts.disks.filter((d) => d.path !== '/').map((d) => ({ d, what: 'imagefs', min: imagefs })),
      ];
      const pct = (d: (typeof facts.disks)[number]) =>
        d.capacityBytes > 0 ? (100 * d.freeBytes) / d.capacityBytes : 0;
      const shown = entries.map(
        ({ d }) => `${d.path} ${pct(d).toFixed(1)}% free (${formatBytes(d.freeBytes, false)})`,
      );
      const observed = shown.join('; ');
      const low = entries.filter((e) => pct(e.d) < e.min);
      if (low.length === 0) return { status: 'pass', observed, message: observed };
      return {
        status: 'unmet',
        observed,
        message: `below the kubelet's hard eviction threshold: ${low
          .map((e) => `${e.d.path} ${pct(e.d).toFixed(1)}% free < ${e.min}% (${e.what}.available)`)
          .join('; ')}; the kubelet evicts pods there`,
      };
    },
  };
}
