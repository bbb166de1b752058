// CUDA forward compatibility on the host: NVIDIA's `cuda-compat-<major>-<minor>` package (dpkg status
// under the host root) and the user-mode driver it installs, `usr/local/cuda-<X.Y>/compat/libcuda.so.<driver>`
// (also present after an RPM or runfile install, which dpkg does not know about). With it, CUDA X.Y
// applications run on an older kernel driver, but only on data-center GPUs (NVIDIA's CUDA compatibility
// guide); nvidia-smi keeps reporting the kernel driver's own CUDA version.
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { HostContext } from '../host.js';
import { realHostPath } from './support.js';

export const DPKG_STATUS = '/var/lib/dpkg/status';
/** dpkg's database grows with every package; stop reading past this (a normal host has a few MB). */
const MAX_STATUS_BYTES = 64 * 1024 * 1024;
const MAX_CUDA_DIRS = 32;

export interface CudaCompatPackage {
  /** `cuda-compat-12-8`. */
  name: string;
  /** dpkg version: `570.211.01-0ubuntu1` (the user-mode driver it carries, then the packaging revision). */
  version: string;
  /** CUDA version it provides, from the name: `12.8`. */
  cudaVersion: string;
}

export interface CudaCompatLibrary {
  /** CUDA version of the toolkit directory: `12.8` for usr/local/cuda-12.8. */
  cudaVersion: string;
  /** Driver version in the file name: `570.211.01` for libcuda.so.570.211.01. */
  libcudaVersion: string;
  /** Host path of the file. */
  path: string;
}

export interface CudaForwardCompat {
  /** The CUDA version forward compatibility provides. */
  cudaVersion: string;
  /** Its user-mode driver version: from the library file name, else from the package version. */
  libcudaVersion: string | null;
  package: { name: string; version: string } | null;
  libraryPath: string | null;
}

const PACKAGE = /^cuda-compat-(\d+)-(\d+)$/;

/**
 * The installed `cuda-compat-X-Y` packages in dpkg status stanzas (deb-control fields, stanzas separated by
 * blank lines). Only `Status: install ok installed` counts: a removed package leaves `deinstall ok
 * config-files` behind.
 */
export async function cudaCompatPackagesFromLines(
  lines: Iterable<string> | AsyncIterable<string>,
): Promise<CudaCompatPackage[]> {
  const found: CudaCompatPackage[] = [];
  let stanza: Record<string, string> = {};
  const flush = () => {
    const m = PACKAGE.exec(stanza['Package'] ?? '');
    const installed = (stanza['Status'] ?? '').split(/\s+/)[2] === 'installed';
    if (m && installed && stanza['Version']) {
      found.push({ name: stanza['Package']!, version: stanza['Version'], cudaVersion: `${m[1]}.${m[2]}` });
    }
    stanza = {};
  };
  for await (const line of lines) {
    if (line.trim() === '') flush();
    else if (!/^\s/.test(line)) {
      const colon = line.indexOf(':');
      if (colon > 0) stanza[line.slice(0, colon)] = line.slice(colon + 1).trim();
    }
  }
  flush();
  return found;
}

/** `libcuda.so.<driver version>` in a toolkit's `compat/` directory. */
export function libcudaVersionOf(fileName: string): string | null {
  return /^libcuda\.so\.(\d+\.\d+(?:\.\d+)?)$/.exec(fileName)?.[1] ?? null;
}

/** Compares dotted numeric versions (`12.10` > `12.9`). */
function compareDotted(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

async function listDir(host: HostContext, dir: string): Promise<string[]> {
  try {
    return await readdir(await realHostPath(host, dir));
  } catch {
    return [];
  }
}

/** Every `usr/local/cuda-X.Y/compat/libcuda.so.<driver>` on the host. */
export async function findCompatLibraries(host: HostContext): Promise<CudaCompatLibrary[]> {
  const libraries: CudaCompatLibrary[] = [];
  const toolkits = (await listDir(host, '/usr/local'))
    .filter((n) => /^cuda-\d+\.\d+$/.test(n))
    .slice(0, MAX_CUDA_DIRS);
  for (const toolkit of toolkits) {
    for (const file of await listDir(host, `/usr/local/${toolkit}/compat`)) {
      const libcudaVersion = libcudaVersionOf(file);
      if (libcudaVersion === null) continue;
      libraries.push({
        cudaVersion: toolkit.slice('cuda-'.length),
        libcudaVersion,
        path: `/usr/local/${toolkit}/compat/${file}`,
      });
    }
  }
  return libraries;
}

/** The installed cuda-compat packages, streaming the host's dpkg status (none without dpkg). */
export async function readCudaCompatPackages(host: HostContext): Promise<CudaCompatPackage[]> {
  let file: string;
  try {
    file = await realHostPath(host, DPKG_STATUS);
  } catch {
    return [];
  }
  const stream = createReadStream(file, { encoding: 'utf8', end: MAX_STATUS_BYTES - 1 });
  try {
    return await cudaCompatPackagesFromLines(
      createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }),
    );
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR')
      return [];
    throw e;
  } finally {
    stream.destroy();
  }
}

/** Package and library joined per CUDA version, the newest CUDA first. */
export function joinCompat(
  packages: CudaCompatPackage[],
  libraries: CudaCompatLibrary[],
): CudaForwardCompat[] {
  // Per CUDA version, the newest libcuda on disk (it is what loads when several builds sit side by side).
  const newest = new Map<string, CudaCompatLibrary>();
  for (const l of libraries) {
    const seen = newest.get(l.cudaVersion);
    if (!seen || compareDotted(l.libcudaVersion, seen.libcudaVersion) > 0) newest.set(l.cudaVersion, l);
  }
  const installed = new Map(packages.map((p) => [p.cudaVersion, p]));
  const versions = [...new Set([...installed.keys(), ...newest.keys()])].sort((a, b) => compareDotted(b, a));
  return versions.map((cudaVersion) => {
    const p = installed.get(cudaVersion) ?? null;
    const l = newest.get(cudaVersion) ?? null;
    return {
      cudaVersion,
      // The package version starts with the driver build it carries: 570.211.01-0ubuntu1.
      libcudaVersion:
        l?.libcudaVersion ?? (p ? (/^(\d+\.\d+(?:\.\d+)?)/.exec(p.version)?.[1] ?? null) : null),
      package: p && { name: p.name, version: p.version },
      libraryPath: l?.path ?? null,
    };
  });
}

/** CUDA forward compatibility on the host, the newest CUDA version first; empty when there is none. */
export async function readCudaForwardCompat(host: HostContext): Promise<CudaForwardCompat[]> {
  return joinCompat(await readCudaCompatPackages(host), await findCompatLibraries(host));
}
