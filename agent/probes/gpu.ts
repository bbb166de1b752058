// NVIDIA discrete GPUs from `nvidia-smi -q -x` (read with the bounded XML reader of xml-reader.ts), plus the
// NVIDIA Container Toolkit version. No nvidia-smi on the host (nor in the GPU Operator's driver root)
// → null (not an error).

import { LIMITS } from '../../report/limits.js';
import type { GpuDevice, GpuFacts } from '../../report/schema.js';
import type { ExecResult, HostContext } from '../host.js';
import { createHostContext } from '../host.js';
import { ProbeFailure } from '../probe-failure.js';
import { readCudaForwardCompat } from './cuda-compat.js';
import type { Probe } from './probe.js';
import { boundedCount, boundedString, excerpt, execOptional, realHostPath } from './support.js';
import { type KeepSpec, readXml, XmlError, type XmlObject } from './xml-reader.js';

export const NVIDIA_SMI_TIMEOUT_MS = 10_000;
/**
 * Cap on `nvidia-smi -q -x`'s output: a 16-GPU node prints ~90 KB, so 1 MiB is ~190 GPUs. Parsing it is
 * the agent's largest allocation: at 4 MiB (the host context's default cap then) one parse took the agent with
 * the DaemonSet's flags to ~73 MiB resident, at 1 MiB to ~54 MiB. A longer output fails the probe.
 */
export const NVIDIA_SMI_XML_MAX_BYTES = 1024 * 1024;

export interface NvidiaSmiSummary {
  driverVersion: string | null;
  cudaVersion: string | null;
  devices: GpuDevice[];
  /** attached_gpus as printed (may exceed devices.length in trimmed/partial output). */
  attachedGpus: number | null;
  /**
   * product_brand of each entry of `devices`, same order (`NVIDIA`, `Tesla`, `GeForce`, `NVIDIA RTX`, ...;
   * null for N/A): tells data-center GPUs apart for CUDA forward compatibility. Not a reported fact yet.
   */
  productBrands: Array<string | null>;
}

const VERSION = /^\d+(?:\.\d+)+/;

/** Leading version of a field such as `610.57.04 [Deprecated; ...]`; null for N/A, "Not Found", etc. */
function versionOf(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  return VERSION.exec(value.trim())?.[0] ?? null;
}

function text(value: unknown): string | null {
  if (typeof value === 'string') {
    const t = value.trim();
    return t.length === 0 || t === 'N/A' ? null : t;
  }
  if (typeof value === 'number') return String(value);
  return null;
}

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/** "81559 MiB" → 81559; N/A or other units → null; beyond Count()'s bound → ProbeFailure('parse'). */
export function parseMiB(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const m = /^(\d+)\s*MiB$/.exec(value.trim());
  return m ? boundedCount(Number(m[1]), LIMITS.count, 'GPU memory in MiB') : null;
}

/** The elements of `nvidia-smi -q -x` the GPU facts come from; the reader builds nothing else. */
export const NVIDIA_SMI_FIELDS: KeepSpec = {
  nvidia_smi_log: {
    driver_version: true,
    kmd_version: true,
    cuda_version: true,
    cuda_umd_version: true,
    attached_gpus: true,
    gpu: {
      product_name: true,
      product_brand: true,
      uuid: true,
      fb_memory_usage: { total: true },
      pci: { pci_bus_id: true },
      mig_mode: { current_mig: true },
    },
  },
};

/** The document's kept elements; what is not well-formed or past the reader's limits is a parse error. */
function readNvidiaSmiXml(xml: string): XmlObject {
  try {
    return readXml(xml, NVIDIA_SMI_FIELDS);
  } catch (e) {
    if (!(e instanceof XmlError)) throw e;
    if (e.refused) {
      // Well-formed as far as read, yet past the reader's limits (nesting depth, entity count/size/expansion)
      // or using what it refuses: the input is at fault, so this is a parse error, never an internal one.
      throw new ProbeFailure('parse', `nvidia-smi -q -x could not be parsed: ${e.message}`);
    }
    const tail = xml.trimEnd().slice(-60);
    throw new ProbeFailure(
      'parse',
      `nvidia-smi -q -x is not well-formed XML (${e.message} at line ${e.line}); ends with ${excerpt(tail)}`,
    );
  }
}

/**
 * Parses `nvidia-smi -q -x`. Driver: kmd_version (driver 610+, where driver_version is deprecated) or the
 * leading version of driver_version; CUDA: cuda_version (or cuda_umd_version), N/A → null.
 */
export async function parseNvidiaSmiXml(xml: string): Promise<NvidiaSmiSummary> {
  const parsed = readNvidiaSmiXml(xml);
  const doc = record(parsed);
  const log = record(doc?.['nvidia_smi_log']);
  if (!log) throw new ProbeFailure('parse', `no <nvidia_smi_log> element in ${excerpt(xml)}`);

  const driverVersion = boundedString(
    versionOf(log['kmd_version']) ?? versionOf(log['driver_version']),
    LIMITS.gpu.driverVersion,
    'nvidia-smi driver version',
  );
  const cudaVersion = boundedString(
    versionOf(log['cuda_version']) ?? versionOf(log['cuda_umd_version']),
    LIMITS.gpu.cudaVersion,
    'nvidia-smi CUDA version',
  );
  // A single GPU is one <gpu> element: the parser gives an object, not an array.
  const rawGpus = log['gpu'] === undefined ? [] : Array.isArray(log['gpu']) ? log['gpu'] : [log['gpu']];
  const devices: GpuDevice[] = [];
  const productBrands: Array<string | null> = [];
  // The report holds at most LIMITS.gpu.deviceItems GPUs; later ones are not parsed at all.
  for (const raw of rawGpus.slice(0, LIMITS.gpu.deviceItems)) {
    const gpu = record(raw);
    if (!gpu) throw new ProbeFailure('parse', 'a <gpu> element has no fields');
    const name = text(gpu['product_name']);
    const uuid = text(gpu['uuid']);
    if (name === null || uuid === null) {
      throw new ProbeFailure(
        'parse',
        `a <gpu> element lacks product_name or uuid (id ${String(gpu['@id'])})`,
      );
    }
    devices.push({
      name: boundedString(name, LIMITS.gpuDevice.name, 'GPU product_name'),
      uuid: boundedString(uuid, LIMITS.gpuDevice.uuid, 'GPU uuid'),
      memoryMiB: parseMiB(record(gpu['fb_memory_usage'])?.['total']),
      pciBusId: boundedString(
        text(record(gpu['pci'])?.['pci_bus_id']) ?? text(gpu['@id']),
        LIMITS.gpuDevice.pciBusId,
        'GPU pci_bus_id',
      ),
      migMode: boundedString(
        text(record(gpu['mig_mode'])?.['current_mig']),
        LIMITS.gpuDevice.migMode,
        'GPU current_mig',
      ),
    });
    productBrands.push(text(gpu['product_brand']));
  }
  const attached = Number(text(log['attached_gpus']));
  return {
    driverVersion,
    cudaVersion,
    devices,
    attachedGpus: Number.isInteger(attached) ? attached : null,
    productBrands,
  };
}

/**
 * Driver and CUDA versions from nvidia-smi's text outputs: the default table, `-q`, or `--version`.
 * Driver 610 prints `KMD Version` / `CUDA UMD Version` and marks the old fields deprecated, so the KMD and
 * UMD fields win when they carry a version.
 */
export function parseNvidiaSmiVersionText(output: string): {
  driverVersion: string | null;
  cudaVersion: string | null;
} {
  const field = (label: string): string | null => {
    const m = new RegExp(`${label}\\s*:\\s*(\\d+(?:\\.\\d+)+)`, 'i').exec(output);
    return m ? m[1]! : null;
  };
  return {
    driverVersion: boundedString(
      field('KMD Version') ?? field('Driver Version'),
      LIMITS.gpu.driverVersion,
      'nvidia-smi driver version',
    ),
    cudaVersion: boundedString(
      field('CUDA UMD Version') ?? field('CUDA Version'),
      LIMITS.gpu.cudaVersion,
      'nvidia-smi CUDA version',
    ),
  };
}

/** `nvidia-ctk --version` / `nvidia-container-runtime --version`: the first `version X.Y.Z`. */
export function parseToolkitVersion(output: string): string | null {
  const version = /\bversion\s+v?(\d+\.\d+\.\d+[^\s]*)/i.exec(output)?.[1] ?? null;
  return boundedString(version, LIMITS.containerToolkit.version, 'NVIDIA Container Toolkit version');
}

/**
 * Where the NVIDIA GPU Operator puts things on the host: the driver container's root filesystem (with
 * nvidia-smi and the libraries it needs, so it runs chrooted there) and the toolkit's install directory.
 */
export const GPU_OPERATOR_DRIVER_ROOT = '/run/nvidia/driver';
const GPU_OPERATOR_TOOLKIT_DIR = '/usr/local/nvidia/toolkit';

/** Total time the toolkit lookup may take: it is best-effort and must not cost the GPU facts. */
export const TOOLKIT_BUDGET_MS = 3000;

/**
 * The NVIDIA Container Toolkit, best-effort: within `budgetMs` for all candidates together. A candidate
 * that hangs, cannot start or is not executable ends the lookup with null: the driver and devices are what
 * the GPU checks need, and one slow helper binary must not discard them.
 */
async function probeToolkit(
  host: HostContext,
  budgetMs: number,
  signal: AbortSignal,
): Promise<GpuFacts['containerToolkit']> {
  const deadline = performance.now() + budgetMs;
  const candidates = ['nvidia-ctk', 'nvidia-container-runtime'];
  for (const command of [...candidates, ...candidates.map((c) => `${GPU_OPERATOR_TOOLKIT_DIR}/${c}`)]) {
    const left = Math.floor(deadline - performance.now());
    if (left <= 0) return null;
    let r: ExecResult | null;
    try {
      r = await execOptional(host, command, ['--version'], left, signal);
    } catch (e) {
      if (e instanceof ProbeFailure) return null;
      throw e;
    }
    if (r === null) continue;
    const binary = command.slice(command.lastIndexOf('/') + 1);
    return { binary, version: r.code === 0 ? parseToolkitVersion(r.stdout) : null };
  }
  return null;
}

/**
 * nvidia-smi as the host has it: installed on the host, else inside the GPU Operator's driver root
 * (run there with the same exec mode, so in the pod it is `chroot /host/run/nvidia/driver nvidia-smi`).
 */
async function runNvidiaSmi(
  host: HostContext,
  args: string[],
  timeoutMs: number,
  signal: AbortSignal,
  maxBuffer?: number,
): Promise<ExecResult | null> {
  const onHost = await execOptional(host, 'nvidia-smi', args, timeoutMs, signal, maxBuffer);
  if (onHost !== null) return onHost;
  if (!(await host.exists(`${GPU_OPERATOR_DRIVER_ROOT}/usr/bin/nvidia-smi`))) return null;
  // The driver root resolved under the host root: a symlink there (absolute or not) is the host's.
  const driverRoot = createHostContext({
    root: await realHostPath(host, GPU_OPERATOR_DRIVER_ROOT),
    execMode: host.execMode,
    path: '',
  });
  return execOptional(driverRoot, 'nvidia-smi', args, timeoutMs, signal, maxBuffer);
}

/** nvidia-smi's own words when it fails, verbatim (it prints them on stdout), bounded for the report. */
function failureMessage(stdout: string, stderr: string, code: number | null): string {
  const said = stdout.trim() || stderr.trim();
  return (said || `nvidia-smi exited with code ${code}`).slice(0, LIMITS.probeError.message);
}

/** CUDA forward compatibility, bounded for the report; best-effort: a read failure means none is known. */
async function forwardCompat(host: HostContext): Promise<NonNullable<GpuFacts['cudaForwardCompat']>> {
  let found: Awaited<ReturnType<typeof readCudaForwardCompat>>;
  try {
    found = await readCudaForwardCompat(host);
  } catch {
    return [];
  }
  const fits = (v: string | null, max: number) => v === null || v.length <= max;
  return found
    .filter(
      (c) =>
        fits(c.cudaVersion, LIMITS.gpu.cudaVersion) &&
        fits(c.libcudaVersion, LIMITS.gpu.driverVersion) &&
        fits(c.libraryPath, LIMITS.gpu.compatPath) &&
        fits(c.package?.name ?? null, LIMITS.gpu.compatPackage) &&
        fits(c.package?.version ?? null, LIMITS.gpu.compatPackage),
    )
    .slice(0, LIMITS.gpu.compatItems);
}

export function gpuProbeWith(
  nvidiaSmiTimeoutMs = NVIDIA_SMI_TIMEOUT_MS,
  toolkitBudgetMs = TOOLKIT_BUDGET_MS,
): Probe<'gpu', GpuFacts | null> {
  const timeoutMs = nvidiaSmiTimeoutMs + 5000;
  return {
    name: 'gpu',
    timeoutMs,
    async run(host, _options, signal) {
      const started = performance.now();
      const r = await runNvidiaSmi(host, ['-q', '-x'], nvidiaSmiTimeoutMs, signal, NVIDIA_SMI_XML_MAX_BYTES);
      if (r === null) return null;
      if (r.code !== 0) throw new ProbeFailure('exec-failed', failureMessage(r.stdout, r.stderr, r.code));
      const summary = await parseNvidiaSmiXml(r.stdout);
      let driverVersion = summary.driverVersion;
      let cudaVersion = summary.cudaVersion;
      if (driverVersion === null) {
        // A future XML without a usable driver field: ask --version rather than guess.
        const v = await runNvidiaSmi(host, ['--version'], nvidiaSmiTimeoutMs, signal);
        const parsed = v && v.code === 0 ? parseNvidiaSmiVersionText(v.stdout) : null;
        driverVersion = parsed?.driverVersion ?? null;
        cudaVersion ??= parsed?.cudaVersion ?? null;
      }
      if (driverVersion === null) {
        throw new ProbeFailure(
          'parse',
          `no driver version in nvidia-smi output ${excerpt(r.stdout.slice(0, 400))}`,
        );
      }
      return {
        driverVersion,
        cudaVersion,
        devices: summary.devices.slice(0, LIMITS.gpu.deviceItems).map((d, i) => ({
          ...d,
          brand: boundedString(summary.productBrands[i] ?? null, LIMITS.gpuDevice.brand, 'product_brand'),
        })),
        cudaForwardCompat: await forwardCompat(host),
        // Never past the probe's own bound (nvidia-smi may have used most of it), with a little margin.
        containerToolkit: await probeToolkit(
          host,
          Math.min(toolkitBudgetMs, timeoutMs - 250 - (performance.now() - started)),
          signal,
        ),
      };
    },
  };
}

export const gpuProbe = gpuProbeWith();
