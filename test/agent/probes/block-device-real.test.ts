// The block-device resolution through this machine's real kernel: a loop device holding ext4 (a 64 MiB
// sparse file, losetup, mkfs.ext4, mount) and a tmpfs, both mounted here for the test and removed after.
// Needs root and losetup, mkfs.ext4, mount, umount, blockdev (util-linux, e2fsprogs): without them the
// test fails saying what is missing, it is never skipped.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHostContext } from '../../../agent/host.js';
import { capacityForRequirement, resolveMountDevice } from '../../../agent/probes/block-device.js';
import { diskFacts } from '../../../agent/probes/disks.js';

const execFileAsync = promisify(execFile);
const IMAGE_BYTES = 64 * 1024 * 1024;
const TMPFS_BYTES = 16 * 1024 * 1024;

/** Runs a tool; a missing one fails with the reason instead of an ENOENT stack. */
async function tool(command: string, args: string[]): Promise<string> {
  try {
    return (await execFileAsync(command, args, { timeout: 30_000 })).stdout.trim();
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') {
      throw new Error(`${command} is not installed; this test needs it (util-linux / e2fsprogs)`);
    }
    throw new Error(`${command} ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`);
  }
}

// The mounts are made by this process, so its own mount table is the one that holds them (pid 1 may live
// in another mount namespace on a CI runner); the agent's default reads the host init's first.
const OWN_MOUNTINFO = ['/proc/self/mountinfo'];
const here = createHostContext({ root: '/', execMode: 'local', path: '' });

describe('resolveMountDevice on real mounts (loop device, tmpfs)', () => {
  let base: string;
  let loop: string | null = null;
  const mounted: string[] = [];

  beforeAll(async () => {
    if (process.getuid?.() !== 0) {
      throw new Error('this test needs root: it attaches a loop device and mounts filesystems');
    }
    base = await mkdtemp(path.join(tmpdir(), 'osmo-realdisk-'));
    const image = path.join(base, 'disk.img');
    const fh = await open(image, 'w');
    await fh.truncate(IMAGE_BYTES); // sparse: costs no disk space until written
    await fh.close();
    loop = await tool('losetup', ['--find', '--show', image]);
    await tool('mkfs.ext4', ['-q', '-F', loop]);
    for (const dir of ['ext4', 'tmpfs']) await mkdir(path.join(base, dir));
    await tool('mount', [loop, path.join(base, 'ext4')]);
    mounted.push(path.join(base, 'ext4'));
    await tool('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES}`, 'tmpfs', path.join(base, 'tmpfs')]);
    mounted.push(path.join(base, 'tmpfs'));
    await mkdir(path.join(base, 'ext4/var/lib/containerd'), { recursive: true });
  });

  afterAll(async () => {
    for (const dir of mounted.reverse()) await tool('umount', [dir]).catch(() => {});
    if (loop !== null) await tool('losetup', ['-d', loop]).catch(() => {});
    if (base) await rm(base, { recursive: true, force: true });
  });

  it('ext4 on a loop device: the device and its size, as blockdev measures it', async () => {
    const r = await resolveMountDevice(here, path.join(base, 'ext4'), OWN_MOUNTINFO);
    if (!r.ok) throw new Error(`not resolved: ${r.reason}: ${r.detail}`);
    const name = path.basename(loop!);
    expect(r.value.mount).toMatchObject({
      fsType: 'ext4',
      source: loop,
      mountPoint: path.join(base, 'ext4'),
    });
    expect(Number(await tool('blockdev', ['--getsize64', loop!]))).toBe(IMAGE_BYTES);
    expect(r.value.device).toEqual({ name, kind: 'disk', bytes: IMAGE_BYTES });
    expect(r.value.disks).toEqual([r.value.device]);
    // The filesystem reports less than the device holds: exactly the gap the disk check must not fail on.
    const fs = await here.statfs(path.join(base, 'ext4'));
    expect(fs.capacityBytes).toBeLessThan(IMAGE_BYTES);
    expect(capacityForRequirement(r, fs.capacityBytes)).toEqual({
      capacityBytes: IMAGE_BYTES,
      source: 'disk',
      note: `disk ${name} (${name})`,
    });
  });

  it("the disks probe's facts for that filesystem: the disk's size for the requirement, statfs beside it", async () => {
    const dir = path.join(base, 'ext4/var/lib/containerd');
    const d = await diskFacts(here, dir, OWN_MOUNTINFO);
    const fs = await statfs(dir);
    const name = path.basename(loop!);
    expect(d).toEqual({
      path: dir,
      capacityBytes: fs.bsize * fs.blocks,
      freeBytes: fs.bsize * fs.bavail,
      diskBytes: IMAGE_BYTES,
      capacitySource: 'disk',
      capacityNote: `disk ${name} (${name})`,
      blockDevice: { name, kind: 'disk', bytes: IMAGE_BYTES, stack: name },
      blockDisks: [{ name, bytes: IMAGE_BYTES }],
    });
    expect(d.capacityBytes).toBeLessThan(IMAGE_BYTES);
  });

  it("the disks probe's facts for a tmpfs: the filesystem size stands in, saying so", async () => {
    const dir = path.join(base, 'tmpfs');
    expect(await diskFacts(here, dir, OWN_MOUNTINFO)).toMatchObject({
      capacityBytes: TMPFS_BYTES,
      diskBytes: null,
      blockDevice: null,
      blockDisks: [],
      capacitySource: 'filesystem',
      capacityNote: `filesystem size (the disk could not be resolved: not-a-block-device: ${dir} is tmpfs from "tmpfs", not on a block device)`,
    });
  });

  it('a directory inside that filesystem resolves to the same device', async () => {
    const r = await resolveMountDevice(here, path.join(base, 'ext4/var/lib/containerd'), OWN_MOUNTINFO);
    expect(r.ok && r.value.device.name).toBe(path.basename(loop!));
  });

  it('tmpfs is not a block device: the filesystem size stands in, saying why', async () => {
    const dir = path.join(base, 'tmpfs');
    const r = await resolveMountDevice(here, dir, OWN_MOUNTINFO);
    expect(r).toEqual({
      ok: false,
      reason: 'not-a-block-device',
      detail: `${dir} is tmpfs from "tmpfs", not on a block device`,
    });
    const s = await statfs(dir);
    expect(s.bsize * s.blocks).toBe(TMPFS_BYTES);
    expect(capacityForRequirement(r, s.bsize * s.blocks)).toMatchObject({
      capacityBytes: TMPFS_BYTES,
      source: 'filesystem',
    });
  });
});
