// NVIDIA GPUs on the PCI bus from the host's sysfs: seen without a driver, and never a Jetson's bridges or
// a GPU's audio function.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { collectFacts } from '../../../agent/collect.js';
import { createHostContext } from '../../../agent/host.js';
import { isNvidiaGpu, pciProbe } from '../../../agent/probes/pci.js';
import { Facts } from '../../../report/schema.js';
import { roleFromFacts } from '../../../spec/role.js';
import { fixtureHostContext } from '../../helpers/fixture-host.js';

const OPTIONS = { registries: null, registryTimeoutMs: 1000 };
const run = (name: string) => pciProbe.run(fixtureHostContext(name), OPTIONS, new AbortController().signal);

describe('isNvidiaGpu', () => {
  it('vendor 0x10de with a display class (VGA, 3D), whatever the case and trailing newline', () => {
    expect(isNvidiaGpu('0x10de\n', '0x030000\n')).toBe(true); // GeForce/RTX: VGA
    expect(isNvidiaGpu('0x10DE', '0x030200')).toBe(true); // A100/H100: 3D controller
    expect(isNvidiaGpu('0x10de', '0x040300')).toBe(false); // the GPU's HDMI audio function
    expect(isNvidiaGpu('0x10de', '0x060400')).toBe(false); // a Jetson's PCIe root port
    expect(isNvidiaGpu('0x10de', '0x068000')).toBe(false); // NVSwitch
    expect(isNvidiaGpu('0x1002', '0x030000')).toBe(false); // another vendor's GPU
    expect(isNvidiaGpu('0x10de', '0x03')).toBe(false);
  });
});

describe('pci probe on fixture hosts', () => {
  it('gpu-no-driver: one GPU behind sysfs symlinks, its audio function and the bridges not counted', async () => {
    expect(await run('gpu-no-driver')).toEqual({ nvidiaGpus: 1 });
  });

  it('GPU hosts with a driver show the same GPU on the bus', async () => {
    for (const host of ['ubuntu2204-gpu-pass', 'gpu-operator', 'gpu-old-driver', 'gpu-535-216-cuda-caveat']) {
      expect(await run(host), host).toEqual({ nvidiaGpus: 1 });
    }
  });

  it('no sys/bus/pci (a Jetson, a container without sysfs): null, unknown rather than zero', async () => {
    expect(await run('jetson-jp62')).toBeNull();
    expect(await run('bare')).toBeNull();
  });

  it('counts every NVIDIA display function, through sysfs links; an empty bus is zero, not unknown', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'osmo-pci-'));
    try {
      const devices = path.join(root, 'sys/bus/pci/devices');
      await mkdir(devices, { recursive: true });
      const empty = createHostContext({ root, execMode: 'local', path: '' });
      expect(await pciProbe.run(empty, OPTIONS, new AbortController().signal)).toEqual({ nvidiaGpus: 0 });
      const fns: [string, string, string | null][] = [
        ['0000:01:00.0', '0x10de', '0x030000'], // VGA
        ['0000:01:00.1', '0x10de', '0x040300'], // its audio function
        ['0000:41:00.0', '0x10DE', '0x030200'], // 3D controller
        ['0000:00:01.0', '0x10de', '0x060400'], // bridge
        ['0000:02:00.0', '0x1002', '0x030000'], // another vendor's GPU
        ['0000:03:00.0', '0x10de', null], // no class file
      ];
      for (const [bdf, vendor, pciClass] of fns) {
        // As on a real host: the entry is an absolute link into sys/devices, resolved under the root.
        const real = path.join(root, 'sys/devices/pci0000:00', bdf);
        await mkdir(real, { recursive: true });
        await writeFile(path.join(real, 'vendor'), `${vendor}\n`);
        if (pciClass !== null) await writeFile(path.join(real, 'class'), `${pciClass}\n`);
        await symlink(`/sys/devices/pci0000:00/${bdf}`, path.join(devices, bdf));
      }
      const host = createHostContext({ root, execMode: 'local', path: '' });
      expect(await pciProbe.run(host, OPTIONS, new AbortController().signal)).toEqual({ nvidiaGpus: 2 });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('gpu-no-driver end to end', () => {
  it('no nvidia-smi: gpu null, pci shows the GPU, auto role gpu; the facts validate', async () => {
    const { facts, probeErrors } = await collectFacts(fixtureHostContext('gpu-no-driver'), OPTIONS);
    expect(probeErrors).toEqual([]);
    expect(facts.gpu).toBeNull();
    expect(facts.pci).toEqual({ nvidiaGpus: 1 });
    expect(facts.hostname).toBe('gpu-node-03');
    expect(roleFromFacts(facts).role).toBe('gpu');
    expect(Value.Errors(Facts, facts).First()?.message).toBeUndefined();
  });
});
