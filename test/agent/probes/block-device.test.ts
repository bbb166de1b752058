// The block device and disk beneath a mount, on sysfs-shaped fixture trees (test/fixtures/block-devices/)
// and on broken trees built per case.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createHostContext } from '../../../agent/host.js';
import {
  capacityForRequirement,
  findMount,
  type MountDeviceResolution,
  parseMountinfo,
  resolveMountDevice,
} from '../../../agent/probes/block-device.js';

const tree = (name: string) =>
  createHostContext({
    root: fileURLToPath(new URL(`../../fixtures/block-devices/${name}`, import.meta.url)),
    execMode: 'local',
    path: '',
  });

const SECTOR = 512;

function resolved(r: MountDeviceResolution) {
  if (!r.ok) throw new Error(`expected a resolution, got ${r.reason}: ${r.detail}`);
  return r.value;
}

describe('parseMountinfo', () => {
  it('reads device number, mount point, type and source; optional fields may be absent or many', () => {
    const text = [
      '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard',
      '36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue',
      '40 27 0:45 / /var/lib/kubelet/pods/x/volumes/kubernetes.io~empty-dir/a\\040b rw - tmpfs tmpfs rw',
      '41 27 0:46 / /cut-off rw', // no " - fstype source": skipped
    ].join('\n');
    expect(parseMountinfo(text)).toEqual([
      { devNumber: '254:0', mountPoint: '/', fsType: 'ext4', source: '/dev/vda' },
      { devNumber: '98:0', mountPoint: '/mnt2', fsType: 'ext3', source: '/dev/root' },
      {
        devNumber: '0:45',
        mountPoint: '/var/lib/kubelet/pods/x/volumes/kubernetes.io~empty-dir/a b',
        fsType: 'tmpfs',
        source: 'tmpfs',
      },
    ]);
  });

  it('findMount: the longest mount point above the path, the last of equal ones', () => {
    const entries = parseMountinfo(
      [
        '1 0 8:2 / / rw - ext4 /dev/sda2 rw',
        '2 1 8:3 / /var rw - ext4 /dev/sda3 rw',
        '3 1 8:4 / /var/lib/containerd rw - xfs /dev/sda4 rw',
        '4 1 8:5 / /var/lib/containerd rw - xfs /dev/sdb1 rw',
        '5 1 8:6 / /variant rw - ext4 /dev/sdc1 rw',
      ].join('\n'),
    );
    expect(findMount(entries, '/')?.source).toBe('/dev/sda2');
    expect(findMount(entries, '/var/log')?.source).toBe('/dev/sda3');
    expect(findMount(entries, '/var/lib/containerd')?.source).toBe('/dev/sdb1');
    expect(findMount(entries, '/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs')?.source).toBe(
      '/dev/sdb1',
    );
    expect(findMount(entries, '/varx')?.source).toBe('/dev/sda2'); // /var is not a prefix of /varx
    expect(findMount([], '/')).toBeNull();
  });
});

describe('resolveMountDevice on fixture trees', () => {
  it('virtio disk without partitions: the disk itself', async () => {
    const r = resolved(await resolveMountDevice(tree('virtio-whole-disk'), '/'));
    expect(r.mount).toEqual({ devNumber: '254:0', mountPoint: '/', fsType: 'ext4', source: '/dev/vda' });
    expect(r.device).toEqual({ name: 'vda', kind: 'disk', bytes: 536870912 * SECTOR });
    expect(r.disks).toEqual([r.device]);
    expect(r).toMatchObject({ capacityBytes: 536870912 * SECTOR, capacityOf: 'disk', stack: 'vda' });
  });

  it('SATA partition: partition size and its disk; capacity is the disk', async () => {
    const r = resolved(await resolveMountDevice(tree('sata-partition'), '/'));
    expect(r.device).toEqual({ name: 'sda2', kind: 'partition', bytes: 975720448 * SECTOR });
    expect(r.disks).toEqual([{ name: 'sda', kind: 'disk', bytes: 976773168 * SECTOR }]);
    expect(r).toMatchObject({ capacityBytes: 976773168 * SECTOR, capacityOf: 'disk', stack: 'sda2 → sda' });
  });

  it('another mount on the same disk (/boot/efi) resolves to its own partition', async () => {
    const r = resolved(await resolveMountDevice(tree('sata-partition'), '/boot/efi'));
    expect(r.device).toMatchObject({ name: 'sda1', kind: 'partition', bytes: 1048576 * SECTOR });
    expect(r.disks.map((d) => d.name)).toEqual(['sda']);
  });

  it('NVMe partition (nvme0n1p2, no block/ level in its sysfs path)', async () => {
    const r = resolved(await resolveMountDevice(tree('nvme-partition'), '/'));
    expect(r.device).toEqual({ name: 'nvme0n1p2', kind: 'partition', bytes: 1951320064 * SECTOR });
    expect(r.disks).toEqual([{ name: 'nvme0n1', kind: 'disk', bytes: 1953525168 * SECTOR }]);
    expect(r.stack).toBe('nvme0n1p2 → nvme0n1');
  });

  it('LVM on a partition of a 50·10⁹-byte disk: capacity is exactly the disk, not the smaller LV', async () => {
    const r = resolved(await resolveMountDevice(tree('lvm-on-partition'), '/'));
    expect(r.device).toEqual({
      name: 'dm-0',
      kind: 'dm',
      bytes: 46727168 * SECTOR,
      dmName: 'ubuntu--vg-ubuntu--lv',
    });
    expect(r.disks).toEqual([{ name: 'vda', kind: 'disk', bytes: 50_000_000_000 }]);
    expect(r).toMatchObject({ capacityBytes: 50_000_000_000, capacityOf: 'disk' });
    expect(r.stack).toBe('dm-0 (ubuntu--vg-ubuntu--lv) → vda3 → vda');
  });

  it('md RAID1 over two disks: capacity is the array, not the sum of the mirrors', async () => {
    const r = resolved(await resolveMountDevice(tree('md-raid1'), '/'));
    expect(r.device).toEqual({ name: 'md127', kind: 'md', bytes: 1874065408 * SECTOR });
    expect(r.disks.map((d) => d.name)).toEqual(['nvme0n1', 'nvme1n1']);
    expect(r).toMatchObject({ capacityBytes: 1874065408 * SECTOR, capacityOf: 'device' });
    expect(r.stack).toBe('md127 → [nvme0n1p2 → nvme0n1, nvme1n1p2 → nvme1n1]');
  });

  it('btrfs (anonymous device number 0:33) is found by its mount source', async () => {
    const r = resolved(await resolveMountDevice(tree('btrfs-nvme'), '/'));
    expect(r.mount).toMatchObject({ devNumber: '0:33', fsType: 'btrfs', source: '/dev/nvme0n1p3' });
    expect(r.device).toEqual({ name: 'nvme0n1p3', kind: 'partition', bytes: 996886528 * SECTOR });
    expect(r).toMatchObject({ capacityBytes: 1000215216 * SECTOR, capacityOf: 'disk' });
    // /boot is a different partition of the same disk, with a real device number.
    expect(resolved(await resolveMountDevice(tree('btrfs-nvme'), '/boot')).device.name).toBe('nvme0n1p2');
  });
});

describe('resolveMountDevice: what cannot be resolved is a typed reason, never a guess', () => {
  const temps: string[] = [];
  afterAll(async () => {
    for (const dir of temps) await rm(dir, { recursive: true, force: true });
  });
  async function hostWith(files: Record<string, string>, links: Record<string, string> = {}) {
    const root = await mkdtemp(path.join(tmpdir(), 'osmo-blockdev-'));
    temps.push(root);
    for (const [rel, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
      await writeFile(path.join(root, rel), text);
    }
    for (const [rel, target] of Object.entries(links)) {
      await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
      await symlink(target, path.join(root, rel));
    }
    return createHostContext({ root, execMode: 'local', path: '' });
  }
  const diskLinks = (name: string, devno: string) => ({
    [`sys/dev/block/${devno}`]: `../../devices/virtual/block/${name}`,
    [`sys/class/block/${name}`]: `../../devices/virtual/block/${name}`,
  });

  it('no mountinfo under the root → mountinfo-unreadable, naming both files', async () => {
    const r = await resolveMountDevice(await hostWith({}), '/');
    expect(r).toMatchObject({ ok: false, reason: 'mountinfo-unreadable' });
    expect(!r.ok && r.detail).toMatch(/\/proc\/1\/mountinfo: ENOENT; \/proc\/self\/mountinfo: ENOENT/);
  });

  it('proc/self/mountinfo is used when proc/1 is not there', async () => {
    const host = await hostWith(
      {
        'proc/self/mountinfo': '27 1 7:3 / / rw - ext4 /dev/loop3 rw\n',
        'sys/devices/virtual/block/loop3/size': '2048\n',
      },
      diskLinks('loop3', '7:3'),
    );
    expect(resolved(await resolveMountDevice(host, '/')).device).toEqual({
      name: 'loop3',
      kind: 'disk',
      bytes: 2048 * SECTOR,
    });
  });

  it('overlay / (a container root) → not-a-block-device, naming the filesystem', async () => {
    const host = await hostWith({
      'proc/1/mountinfo':
        '700 650 0:123 / / rw,relatime - overlay overlay rw,lowerdir=/a,upperdir=/b,workdir=/c\n',
    });
    const r = await resolveMountDevice(host, '/');
    expect(r).toMatchObject({ ok: false, reason: 'not-a-block-device' });
    expect(!r.ok && r.detail).toBe('/ is overlay from "overlay", not on a block device');
  });

  it('a real device number but no sysfs under the root → sysfs-missing', async () => {
    const host = await hostWith({ 'proc/1/mountinfo': '27 1 8:2 / / rw - ext4 /dev/sda2 rw\n' });
    const r = await resolveMountDevice(host, '/');
    expect(r).toMatchObject({ ok: false, reason: 'sysfs-missing' });
    expect(!r.ok && r.detail).toMatch(/no sysfs entry for \/dev\/sda2 \(device 8:2\)/);
  });

  it('a size that is not a sector count → size-unreadable', async () => {
    const host = await hostWith(
      {
        'proc/1/mountinfo': '27 1 7:3 / / rw - ext4 /dev/loop3 rw\n',
        'sys/devices/virtual/block/loop3/size': 'lots\n',
      },
      diskLinks('loop3', '7:3'),
    );
    expect(await resolveMountDevice(host, '/')).toMatchObject({ ok: false, reason: 'size-unreadable' });
  });

  it('a dm device listing no slaves → sysfs-missing', async () => {
    const host = await hostWith(
      {
        'proc/1/mountinfo': '27 1 253:0 / / rw - ext4 /dev/mapper/vg-root rw\n',
        'sys/devices/virtual/block/dm-0/size': '2048\n',
        'sys/devices/virtual/block/dm-0/dm/name': 'vg-root\n',
      },
      diskLinks('dm-0', '253:0'),
    );
    const r = await resolveMountDevice(host, '/');
    expect(r).toMatchObject({ ok: false, reason: 'sysfs-missing' });
    expect(!r.ok && r.detail).toBe('dm-0 (dm) lists no slaves');
  });

  it('slaves that loop back (a broken or hostile tree) end in too-complex, not a hang', async () => {
    const host = await hostWith(
      {
        'proc/1/mountinfo': '27 1 253:0 / / rw - ext4 /dev/dm-0 rw\n',
        'sys/devices/virtual/block/dm-0/size': '2048\n',
        'sys/devices/virtual/block/dm-0/dm/name': 'a\n',
        'sys/devices/virtual/block/dm-1/size': '2048\n',
        'sys/devices/virtual/block/dm-1/dm/name': 'b\n',
      },
      {
        ...diskLinks('dm-0', '253:0'),
        ...diskLinks('dm-1', '253:1'),
        'sys/devices/virtual/block/dm-0/slaves/dm-1': '../../dm-1',
        'sys/devices/virtual/block/dm-1/slaves/dm-0': '../../dm-0',
      },
    );
    expect(await resolveMountDevice(host, '/')).toMatchObject({ ok: false, reason: 'too-complex' });
  });
});

describe('capacityForRequirement', () => {
  it('a single disk: its size, naming the stack', async () => {
    const r = await resolveMountDevice(tree('lvm-on-partition'), '/');
    expect(capacityForRequirement(r, 23_000_000_000)).toEqual({
      capacityBytes: 50_000_000_000,
      source: 'disk',
      note: 'disk vda (dm-0 (ubuntu--vg-ubuntu--lv) → vda3 → vda)',
    });
  });
  it('several disks: the array or volume', async () => {
    const r = await resolveMountDevice(tree('md-raid1'), '/');
    expect(capacityForRequirement(r, 1)).toMatchObject({
      capacityBytes: 1874065408 * SECTOR,
      source: 'device',
    });
    expect(capacityForRequirement(r, 1).note).toMatch(/^md device md127 over 2 disks \(nvme0n1, nvme1n1; /);
  });
  it('unresolved: the filesystem size, saying why', () => {
    const r: MountDeviceResolution = { ok: false, reason: 'not-a-block-device', detail: '/ is overlay' };
    expect(capacityForRequirement(r, 48_800_000_000)).toEqual({
      capacityBytes: 48_800_000_000,
      source: 'filesystem',
      note: 'filesystem size (the disk could not be resolved: not-a-block-device: / is overlay)',
    });
  });
});
