// The block device that holds a mounted filesystem, and the whole disk(s) beneath it, read under the host
// root: the mount's device number from the host's mountinfo, then sysfs (`sys/dev/block/MAJ:MIN`,
// `sys/class/block/<name>/{partition,size,slaves,dm,md}`). Partitions (sda2, nvme0n1p2), device-mapper
// (LVM, LUKS: dm-N with slaves) and md arrays are followed down to their disks.
//
// Capacity for a "Disk: N GB" requirement is the node's disk, not the filesystem: ext4 on an exactly
// 50·10⁹-byte volume reports about 48.8 GB (inode tables, journal, reserved blocks). So:
// - the filesystem lives on exactly one disk (a plain disk, a partition of it, LVM/LUKS on partitions of
//   it): the capacity is that disk's size. How the operator split it is their choice; free space is
//   measured on the filesystem, separately.
// - it spans several disks (md RAID, LVM over two disks): the capacity is the size of the device holding
//   the filesystem (the array or logical volume), since adding up mirrors would overstate it.
// - it cannot be resolved (overlay, tmpfs, ZFS, NFS, no sysfs under the root): a typed reason, and the
//   caller falls back to the filesystem's size, saying so (`capacityForRequirement`).
import { readdir, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../report/error-message.js';
import type { HostContext } from '../host.js';
import { resolveInRoot } from '../host.js';
import { realHostPath } from './support.js';

/** Where the host's mount table is read, in order: the host's init first (its mount namespace is the
 * host's even when this process runs in a pod with the host's /proc under /host), then this process. */
export const MOUNTINFO_PATHS = ['/proc/1/mountinfo', '/proc/self/mountinfo'];

/**
 * The most of a mount table read: ~20,000 mounts. A node running many containers has ~5,000 (~1 MiB; a
 * pod's volumes are a few mounts each). A longer table is read up to here (its last line cut, skipped).
 * At 16 MiB the agent with the DaemonSet's flags parsed it past the disks probe's 3 s at ~123 MiB resident.
 */
export const MOUNTINFO_MAX_BYTES = 4 * 1024 * 1024;

/** Bounds on the device stack walked below a mount (real stacks are 1–4 levels, a few devices). */
const MAX_DEPTH = 8;
const MAX_DEVICES = 64;

export interface MountinfoEntry {
  /** `major:minor` of the filesystem's device (st_dev): `8:2`, `253:0`, `0:27` for virtual ones. */
  devNumber: string;
  /** Where it is mounted, unescaped (`\040` → space). */
  mountPoint: string;
  fsType: string;
  /** The mount source: `/dev/sda2`, `/dev/mapper/vg-root`, `overlay`, `tmpfs`, ... */
  source: string;
}

export type BlockDeviceKind = 'disk' | 'partition' | 'dm' | 'md' | 'stacked';

export interface BlockDevice {
  /** Kernel name: `sda`, `sda2`, `nvme0n1p2`, `dm-0`, `md127`, `vda`, `loop0`. */
  name: string;
  kind: BlockDeviceKind;
  bytes: number;
  /** device-mapper name (`ubuntu--vg-ubuntu--lv`) for dm devices. */
  dmName?: string;
}

export interface ResolvedMountDevice {
  mount: MountinfoEntry;
  /** The device the filesystem is on. */
  device: BlockDevice;
  /** The whole disks beneath it, each once (the device itself when it is a disk). */
  disks: BlockDevice[];
  /** The stack from the device down to its disks, for messages: `dm-0 (vg-root) → sda3 → sda`. */
  stack: string;
  /** What a disk-size requirement is measured on (see the file comment). */
  capacityBytes: number;
  capacityOf: 'disk' | 'device';
}

export type UnresolvedReason =
  | 'mountinfo-unreadable'
  | 'mount-not-found'
  | 'not-a-block-device'
  | 'sysfs-missing'
  | 'size-unreadable'
  | 'too-complex'
  | 'read-failed';

export type MountDeviceResolution =
  | { ok: true; value: ResolvedMountDevice }
  | { ok: false; reason: UnresolvedReason; detail: string };

const unescapeMountinfo = (s: string) =>
  s.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));

/**
 * `/proc/<pid>/mountinfo` (proc(5)): `id parent major:minor root mountpoint options [optional...] - fstype
 * source superoptions`. Lines that do not have that shape (a cut last line) are skipped.
 */
export function parseMountinfo(text: string): MountinfoEntry[] {
  const entries: MountinfoEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    const dash = fields.indexOf('-', 6);
    if (dash < 0 || fields.length < dash + 3) continue;
    const devNumber = fields[2]!;
    if (!/^\d+:\d+$/.test(devNumber)) continue;
    entries.push({
      devNumber,
      mountPoint: unescapeMountinfo(fields[4]!),
      fsType: unescapeMountinfo(fields[dash + 1]!),
      source: unescapeMountinfo(fields[dash + 2]!),
    });
  }
  return entries;
}

/** The mount holding `hostPath`: the longest mount point above it; of equal ones the last (it is on top). */
export function findMount(entries: MountinfoEntry[], hostPath: string): MountinfoEntry | null {
  const target = path.posix.normalize(`/${hostPath}`);
  let best: MountinfoEntry | null = null;
  for (const e of entries) {
    const mp = e.mountPoint;
    const holds = mp === '/' || target === mp || target.startsWith(`${mp}/`);
    if (holds && (best === null || mp.length >= best.mountPoint.length)) best = e;
  }
  return best;
}

class Unresolved extends Error {
  constructor(
    readonly reason: UnresolvedReason,
    detail: string,
  ) {
    super(detail);
  }
}

const sysBlock = (name: string, file = '') => `/sys/class/block/${name}${file ? `/${file}` : ''}`;

/** The link target of `dir/name` under the host root, without following that last link. */
async function readLinkUnder(host: HostContext, dir: string, name: string): Promise<string | null> {
  try {
    return await readlink(path.join(await realHostPath(host, dir), name));
  } catch {
    return null;
  }
}

async function readSizeBytes(host: HostContext, name: string): Promise<number> {
  let text: string;
  try {
    text = await host.readFile(sysBlock(name, 'size'), 64);
  } catch (e) {
    throw new Unresolved('size-unreadable', `cannot read ${sysBlock(name, 'size')}: ${errorMessage(e)}`);
  }
  // Always in 512-byte sectors, whatever the device's logical block size.
  const sectors = text.trim();
  const bytes = Number(sectors) * 512;
  if (!/^\d+$/.test(sectors) || !Number.isSafeInteger(bytes) || bytes === 0) {
    throw new Unresolved('size-unreadable', `${sysBlock(name, 'size')} holds ${JSON.stringify(sectors)}`);
  }
  return bytes;
}

async function listSlaves(host: HostContext, name: string): Promise<string[]> {
  try {
    return (await readdir(await realHostPath(host, sysBlock(name, 'slaves')))).sort();
  } catch {
    return [];
  }
}

async function classify(host: HostContext, name: string, slaves: string[]): Promise<BlockDevice> {
  const bytes = await readSizeBytes(host, name);
  if (await host.exists(sysBlock(name, 'partition'))) return { name, kind: 'partition', bytes };
  if (await host.exists(sysBlock(name, 'dm/name'))) {
    const dmName = (await host.readFile(sysBlock(name, 'dm/name'), 512)).trim();
    return { name, kind: 'dm', bytes, ...(dmName ? { dmName } : {}) };
  }
  if (await host.exists(sysBlock(name, 'md'))) return { name, kind: 'md', bytes };
  return { name, kind: slaves.length > 0 ? 'stacked' : 'disk', bytes };
}

/** The device a partition is part of: its parent directory in sysfs (`.../block/sda/sda2` → sda). */
async function parentDevice(host: HostContext, partition: string): Promise<string> {
  const target = await readLinkUnder(host, '/sys/class/block', partition);
  const parent = target === null ? undefined : path.posix.basename(path.posix.dirname(target));
  if (!parent || parent === 'block') {
    throw new Unresolved('sysfs-missing', `cannot tell which disk holds partition ${partition}`);
  }
  return parent;
}

interface Walk {
  disks: Map<string, BlockDevice>;
  visited: number;
}

/**
 * Walks from `name` down to the whole disks beneath it (a partition's disk, a dm/md device's slaves),
 * recording each disk once. Returns the device and its stack for messages: `dm-0 (vg-root) → sda3 → sda`,
 * `md127 → [nvme0n1p2 → nvme0n1, nvme1n1p2 → nvme1n1]`.
 */
async function walkDown(
  host: HostContext,
  name: string,
  depth: number,
  walk: Walk,
): Promise<{ device: BlockDevice; stack: string }> {
  walk.visited += 1;
  if (depth > MAX_DEPTH || walk.visited > MAX_DEVICES) {
    throw new Unresolved(
      'too-complex',
      `more than ${MAX_DEPTH} levels or ${MAX_DEVICES} devices below ${name}`,
    );
  }
  const slaves = await listSlaves(host, name);
  const device = await classify(host, name, slaves);
  const label = device.dmName ? `${name} (${device.dmName})` : name;
  if (device.kind === 'disk') {
    walk.disks.set(name, device);
    return { device, stack: label };
  }
  // A partition's parent is walked too: it is usually a disk, but may be an md array (md127p1).
  const below = device.kind === 'partition' ? [await parentDevice(host, name)] : slaves;
  if (below.length === 0) throw new Unresolved('sysfs-missing', `${name} (${device.kind}) lists no slaves`);
  const stacks: string[] = [];
  for (const next of below) stacks.push((await walkDown(host, next, depth + 1, walk)).stack);
  return { device, stack: `${label} → ${stacks.length === 1 ? stacks[0] : `[${stacks.join(', ')}]`}` };
}

/** The kernel name of the mount's device: by device number, else (btrfs, `0:N`) by its /dev source. */
async function deviceName(host: HostContext, mount: MountinfoEntry): Promise<string> {
  const byNumber = await readLinkUnder(host, '/sys/dev/block', mount.devNumber);
  if (byNumber !== null) return path.posix.basename(byNumber);
  if (!mount.source.startsWith('/dev/')) {
    throw new Unresolved(
      'not-a-block-device',
      `${mount.mountPoint} is ${mount.fsType} from ${JSON.stringify(mount.source)}, not on a block device`,
    );
  }
  // /dev/mapper/vg-root → ../dm-0 on the host; without the host's /dev, match the name dm reports.
  const viaDev = await readLinkUnder(
    host,
    path.posix.dirname(mount.source),
    path.posix.basename(mount.source),
  );
  const candidate = path.posix.basename(viaDev ?? mount.source);
  if (await host.exists(sysBlock(candidate, 'size'))) return candidate;
  const named = await dmDeviceNamed(host, candidate);
  if (named !== null) return named;
  throw new Unresolved(
    'sysfs-missing',
    `no sysfs entry for ${mount.source} (device ${mount.devNumber}) under /sys/dev/block or /sys/class/block`,
  );
}

async function dmDeviceNamed(host: HostContext, dmName: string): Promise<string | null> {
  let names: string[];
  try {
    names = await readdir(await realHostPath(host, '/sys/class/block'));
  } catch {
    return null;
  }
  for (const name of names.filter((n) => n.startsWith('dm-')).slice(0, MAX_DEVICES)) {
    const said = await host.readFile(sysBlock(name, 'dm/name'), 512).catch(() => '');
    if (said.trim() === dmName) return name;
  }
  return null;
}

/** The host path of `p` after the host's symbolic links (mount points are real paths). */
async function realHost(host: HostContext, p: string): Promise<string> {
  try {
    if (host.root === '/') return await realpath(p);
    const real = await resolveInRoot(host.root, p);
    return `/${path.relative(host.root, real)}`;
  } catch {
    return path.posix.normalize(`/${p}`);
  }
}

async function readMountinfo(host: HostContext, paths: string[]): Promise<MountinfoEntry[]> {
  const failures: string[] = [];
  for (const p of paths) {
    try {
      const entries = parseMountinfo(await host.readFile(p, MOUNTINFO_MAX_BYTES));
      if (entries.length > 0) return entries;
      failures.push(`${p}: no mount entries`);
    } catch (e) {
      failures.push(`${p}: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`);
    }
  }
  throw new Unresolved('mountinfo-unreadable', `cannot read the host's mount table (${failures.join('; ')})`);
}

/**
 * The block device and disk(s) holding the filesystem mounted at or above `hostPath` on the host.
 * Never throws: what cannot be resolved is a typed reason with a message.
 */
export async function resolveMountDevice(
  host: HostContext,
  hostPath: string,
  mountinfoPaths: string[] = MOUNTINFO_PATHS,
): Promise<MountDeviceResolution> {
  try {
    const entries = await readMountinfo(host, mountinfoPaths);
    const target = await realHost(host, hostPath);
    const mount = findMount(entries, target);
    if (mount === null) throw new Unresolved('mount-not-found', `no mount holds ${target}`);
    const walk: Walk = { disks: new Map(), visited: 0 };
    const { device, stack } = await walkDown(host, await deviceName(host, mount), 0, walk);
    const disks = [...walk.disks.values()];
    const single = disks.length === 1 ? disks[0]! : null;
    return {
      ok: true,
      value: {
        mount,
        device,
        disks,
        stack,
        capacityBytes: single ? single.bytes : device.bytes,
        capacityOf: single ? 'disk' : 'device',
      },
    };
  } catch (e) {
    if (e instanceof Unresolved) return { ok: false, reason: e.reason, detail: e.message };
    return { ok: false, reason: 'read-failed', detail: errorMessage(e) };
  }
}

export interface RequirementCapacity {
  capacityBytes: number;
  /** `disk`/`device`: from the block devices; `filesystem`: statfs, because they could not be resolved. */
  source: 'disk' | 'device' | 'filesystem';
  /** One line for the report: what was measured, or why the filesystem size stands in. */
  note: string;
}

/** The capacity a disk-size requirement is checked against, from a resolution and the filesystem's size. */
export function capacityForRequirement(
  resolution: MountDeviceResolution,
  filesystemBytes: number,
): RequirementCapacity {
  if (!resolution.ok) {
    return {
      capacityBytes: filesystemBytes,
      source: 'filesystem',
      note: `filesystem size (the disk could not be resolved: ${resolution.reason}: ${resolution.detail})`,
    };
  }
  const r = resolution.value;
  const chain = r.stack;
  if (r.capacityOf === 'disk') {
    return { capacityBytes: r.capacityBytes, source: 'disk', note: `disk ${r.disks[0]!.name} (${chain})` };
  }
  const disks = r.disks.map((d) => d.name).join(', ');
  return {
    capacityBytes: r.capacityBytes,
    source: 'device',
    note: `${r.device.kind} device ${r.device.name} over ${r.disks.length} disks (${disks}; ${chain})`,
  };
}
