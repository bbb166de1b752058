// Jetson (L4T) identification: etc/nv_tegra_release (release + board), else sys/devices/soc0/family
// starting with "tegra"; the nvidia-jetpack package version and the CUDA version when installed. The
// JetPack release is not the agent's to tell: the evaluation looks it up in the spec's L4T → JetPack table
// (spec/jetpack.ts), so a new L4T release needs a spec edit, not a new agent.
import { LIMITS } from '../../report/limits.js';
import type { JetsonFacts } from '../../report/schema.js';
import { ProbeFailure } from '../probe-failure.js';
import type { Probe } from './probe.js';
import { boundedString, excerpt, execOptional, readOptional, realHostPath } from './support.js';

export interface TegraRelease {
  l4tVersion: string;
  board: string | null;
}

/** `# R36 (release), REVISION: 4.3, GCID: ..., BOARD: generic, ...` → 36.4.3 / generic. */
export function parseNvTegraRelease(text: string): TegraRelease {
  const first = text.split('\n')[0] ?? '';
  const m = /^#\s*R(\d+)\s*\(release\),\s*REVISION:\s*(\d+)\.(\d+)\b/.exec(first);
  if (!m) throw new ProbeFailure('parse', `unexpected nv_tegra_release first line ${excerpt(first)}`);
  const board = /BOARD:\s*([^,\s]+)/.exec(first)?.[1] ?? null;
  return {
    l4tVersion: boundedString(
      `${m[1]}.${m[2]}.${m[3]}`,
      LIMITS.jetson.l4tVersion,
      'nv_tegra_release L4T version',
    ),
    board: boundedString(board, LIMITS.jetson.board, 'nv_tegra_release BOARD'),
  };
}

/** usr/local/cuda/version.json → cuda.version. */
export function parseCudaVersionJson(text: string): string | null {
  let version: string | null;
  try {
    const doc: unknown = JSON.parse(text);
    const cuda = (doc as { cuda?: { version?: unknown } } | null)?.cuda;
    version = typeof cuda?.version === 'string' ? cuda.version : null;
  } catch {
    throw new ProbeFailure('parse', `usr/local/cuda/version.json is not JSON: ${excerpt(text)}`);
  }
  return boundedString(version, LIMITS.jetson.cudaVersion, 'usr/local/cuda/version.json cuda.version');
}

/** `dpkg-query -W -f='${Version}' nvidia-jetpack` output → the version; null when empty. */
export function parseDpkgVersion(output: string): string | null {
  const version = output.trim();
  if (version.length === 0) return null;
  // One Debian version is one token: anything else is not dpkg-query's answer.
  if (/\s/.test(version)) throw new ProbeFailure('parse', `unexpected dpkg-query output ${excerpt(version)}`);
  return boundedString(version, LIMITS.jetson.jetpackPackageVersion, 'nvidia-jetpack package version');
}

// dpkg-query's own format syntax, not a JS template.
const DPKG_VERSION_FORMAT = '-f=$' + '{Version}';

export const jetsonProbe: Probe<'jetson', JetsonFacts | null> = {
  name: 'jetson',
  timeoutMs: 5000,
  async run(host, _options, signal) {
    const release = await readOptional(host, '/etc/nv_tegra_release');
    let tegra: TegraRelease | null = null;
    if (release !== null) {
      tegra = parseNvTegraRelease(release);
    } else {
      const family = (await readOptional(host, '/sys/devices/soc0/family'))?.trim().toLowerCase() ?? '';
      if (!family.startsWith('tegra')) return null;
    }

    let jetpackPackageVersion: string | null = null;
    // In local mode the dpkg-query found may be this machine's: point it at the host's package database,
    // its symlinks resolved under the host root (this machine would follow an absolute one to its own).
    const admindir =
      host.execMode === 'local' && host.root !== '/'
        ? [`--admindir=${await realHostPath(host, '/var/lib/dpkg')}`]
        : [];
    const dpkg = await execOptional(
      host,
      'dpkg-query',
      [...admindir, '-W', DPKG_VERSION_FORMAT, 'nvidia-jetpack'],
      4000,
      signal,
    );
    if (dpkg && dpkg.code === 0) jetpackPackageVersion = parseDpkgVersion(dpkg.stdout);

    const cudaJson = await readOptional(host, '/usr/local/cuda/version.json');
    return {
      l4tVersion: tegra?.l4tVersion ?? null,
      jetpackPackageVersion,
      cudaVersion: cudaJson === null ? null : parseCudaVersionJson(cudaJson),
      board: tegra?.board ?? null,
    };
  },
};
