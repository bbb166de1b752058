// Capacity and free space of the host's / and /var/lib/containerd (when it exists), via statfs.
import type { DiskFacts } from '../../report/schema.js';
import type { Probe } from './probe.js';
import { ProbeFailure } from './probe.js';

export const DISK_PATHS = ['/', '/var/lib/containerd'];

export const disksProbe: Probe<'disks', DiskFacts[]> = {
  name: 'disks',
  timeoutMs: 3000,
  async run(host) {
    const disks: DiskFacts[] = [];
    for (const path of DISK_PATHS) {
      if (path !== '/' && !(await host.exists(path))) continue;
      try {
        disks.push({ path, ...(await host.statfs(path)) });
      } catch (e) {
        throw new ProbeFailure('read', `statfs ${path}: ${(e as Error).message}`);
      }
    }
    return disks;
  },
};
