// Size and free space of the host's / and of containerd's root (its config's `root`, default
// /var/lib/containerd; when it exists): the filesystem via statfs
// (what df shows; free space is always the filesystem's), and the block device and disk beneath it via the
// host's mountinfo and sysfs (block-device.ts), which is what a "Disk: N GB" requirement is measured on.
import { LIMITS } from '../../report/limits.js';
import type { DiskFacts } from '../../report/schema.js';
import { ProbeFailure } from '../probe-failure.js';
import { capacityForRequirement, MOUNTINFO_PATHS, resolveMountDevice } from './block-device.js';
import type { Probe } from './probe.js';
import { boundedCount, boundedString, readOptional } from './support.js';

export const CONTAINERD_CONFIG = '/etc/containerd/config.toml';
export const DEFAULT_CONTAINERD_ROOT = '/var/lib/containerd';
/** The most of containerd's config read (scanned line by line for `root`, never parsed whole). */
export const CONTAINERD_CONFIG_MAX_BYTES = 1024 * 1024;

/** containerd's top-level `root = "..."` (before any [table]); null when the config does not set it. */
export function containerdRootOf(config: string): string | null {
  for (const raw of config.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) return null;
    const m = /^root\s*=\s*(?:"([^"]*)"|'([^']*)')\s*(?:#.*)?$/.exec(line);
    const value = m ? (m[1] ?? m[2]) : undefined;
    if (value?.startsWith('/')) return value;
  }
  return null;
}

/** The host paths measured: `/` and containerd's root (its config's `root`, else the default) when it exists. */
async function diskPaths(host: Parameters<Probe['run']>[0]): Promise<string[]> {
  const config = await readOptional(host, CONTAINERD_CONFIG, CONTAINERD_CONFIG_MAX_BYTES).catch(() => null);
  const root = (config && containerdRootOf(config)) ?? DEFAULT_CONTAINERD_ROOT;
  return root === '/' ? ['/'] : ['/', boundedString(root, LIMITS.disk.path, 'containerd root')];
}

/** The facts of one path: statfs, then the block device (never failing: unresolved falls back, saying so). */
export async function diskFacts(
  host: Parameters<Probe['run']>[0],
  path: string,
  mountinfoPaths: string[] = MOUNTINFO_PATHS,
): Promise<DiskFacts> {
  let fs: { capacityBytes: number; freeBytes: number };
  try {
    fs = await host.statfs(path);
  } catch (e) {
    throw new ProbeFailure('read', `statfs ${path}: ${(e as Error).message}`);
  }
  const capacityBytes = boundedCount(fs.capacityBytes, LIMITS.bytes, `statfs ${path} capacity`);
  const resolution = await resolveMountDevice(host, path, mountinfoPaths);
  const requirement = capacityForRequirement(resolution, capacityBytes);
  const facts: DiskFacts = {
    path,
    capacityBytes,
    freeBytes: boundedCount(fs.freeBytes, LIMITS.bytes, `statfs ${path} free space`),
    blockDevice: null,
    blockDisks: [],
    diskBytes: null,
    capacitySource: requirement.source,
    // A message, not a fact: cut to fit like probe error texts.
    capacityNote: requirement.note.slice(0, LIMITS.disk.capacityNote),
  };
  if (resolution.ok) {
    const r = resolution.value;
    const name = (n: string) => boundedString(n, LIMITS.disk.deviceName, `block device name of ${path}`);
    facts.blockDevice = {
      name: name(r.device.name),
      kind: r.device.kind,
      bytes: boundedCount(r.device.bytes, LIMITS.bytes, `size of ${r.device.name}`),
      stack: r.stack.slice(0, LIMITS.disk.stack),
    };
    facts.blockDisks = r.disks
      .slice(0, LIMITS.disk.blockDiskItems)
      .map((d) => ({ name: name(d.name), bytes: boundedCount(d.bytes, LIMITS.bytes, `size of ${d.name}`) }));
    facts.diskBytes = boundedCount(requirement.capacityBytes, LIMITS.bytes, `disk size of ${path}`);
  }
  return facts;
}

/** The disks probe; `mountinfoPaths` is where the host's mount table is read (tests: this process's). */
export function disksProbeWith(mountinfoPaths: string[] = MOUNTINFO_PATHS): Probe<'disks', DiskFacts[]> {
  return {
    name: 'disks',
    timeoutMs: 3000,
    async run(host) {
      const disks: DiskFacts[] = [];
      for (const path of await diskPaths(host)) {
        if (path !== '/' && !(await host.exists(path))) continue;
        disks.push(await diskFacts(host, path, mountinfoPaths));
      }
      return disks;
    },
  };
}

export const disksProbe = disksProbeWith();
