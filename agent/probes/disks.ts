// Capacity and free space of the host's / and /var/lib/containerd (when it exists), via statfs.
import { LIMITS } from '../../report/limits.js';
import type { DiskFacts } from '../../report/schema.js';
import { ProbeFailure } from '../probe-failure.js';
import type { Probe } from './probe.js';
import { boundedCount } from './support.js';

export const DISK_PATHS = ['/', '/var/lib/containerd'];

export const disksProbe: Probe<'disks', DiskFacts[]> = {
  name: 'disks',
  timeoutMs: 3000,
  async run(host) {
    const disks: DiskFacts[] = [];
    for (const path of DISK_PATHS) {
      if (path !== '/' && !(await host.exists(path))) continue;
      let fs: { capacityBytes: number; freeBytes: number };
      try {
        fs = await host.statfs(path);
      } catch (e) {
        throw new ProbeFailure('read', `statfs ${path}: ${(e as Error).message}`);
      }
      disks.push({
        path,
        capacityBytes: boundedCount(fs.capacityBytes, LIMITS.bytes, `statfs ${path} capacity`),
        freeBytes: boundedCount(fs.freeBytes, LIMITS.bytes, `statfs ${path} free space`),
      });
    }
    return disks;
  },
};
