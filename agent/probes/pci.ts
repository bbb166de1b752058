// NVIDIA GPUs on the host's PCI bus, from sysfs (sys/bus/pci/devices/*/{vendor,class}): the hardware is
// seen even when no driver is installed or nvidia-smi fails, so such a node is still judged as a GPU node.
// null when the host has no PCI bus in sysfs (a Jetson's GPU is not on PCI; containers without sysfs).

import { readdir } from 'node:fs/promises';
import { LIMITS } from '../../report/limits.js';
import type { PciFacts } from '../../report/schema.js';
import { ProbeFailure } from '../probe-failure.js';
import type { Probe } from './probe.js';
import { boundedCount, readOptional, realHostPath } from './support.js';

export const PCI_DEVICES_DIR = '/sys/bus/pci/devices';
const NVIDIA_VENDOR = '0x10de';
/** Far above any real machine's PCI function count; keeps the walk bounded whatever sysfs holds. */
const MAX_PCI_DEVICES = 16_384;

/**
 * Whether a device's sysfs `vendor` and `class` files describe an NVIDIA display controller: vendor 0x10de,
 * class 0x03xxxx (VGA 0x0300, 3D 0x0302). NVIDIA's audio functions (0x0403), NVSwitches and bridges
 * (0x06xx, e.g. a Jetson's PCIe root ports) are not GPUs.
 */
export function isNvidiaGpu(vendor: string, pciClass: string): boolean {
  return vendor.trim().toLowerCase() === NVIDIA_VENDOR && /^0x03[0-9a-f]{4}$/i.test(pciClass.trim());
}

export const pciProbe: Probe<'pci', PciFacts | null> = {
  name: 'pci',
  timeoutMs: 3000,
  async run(host) {
    if (!(await host.exists('/sys/bus/pci'))) return null;
    let entries: string[];
    try {
      // sysfs lists each device as a symlink into sys/devices: resolved under the host root on read.
      entries = await readdir(await realHostPath(host, PCI_DEVICES_DIR));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw new ProbeFailure('read', `cannot list ${PCI_DEVICES_DIR}: ${code ?? (e as Error).message}`);
    }
    let nvidiaGpus = 0;
    for (const entry of entries.slice(0, MAX_PCI_DEVICES)) {
      const device = `${PCI_DEVICES_DIR}/${entry}`;
      const vendor = await readOptional(host, `${device}/vendor`, 64);
      if (vendor === null || vendor.trim().toLowerCase() !== NVIDIA_VENDOR) continue;
      const pciClass = await readOptional(host, `${device}/class`, 64);
      if (pciClass !== null && isNvidiaGpu(vendor, pciClass)) nvidiaGpus += 1;
    }
    return { nvidiaGpus: boundedCount(nvidiaGpus, LIMITS.count, 'NVIDIA GPUs on the PCI bus') };
  },
};
