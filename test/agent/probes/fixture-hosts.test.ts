import { readdir, readFile, stat } from 'node:fs/promises';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { type CollectOptions, collectFacts } from '../../../agent/collect.js';
import { Facts } from '../../../report/schema.js';
import { FIXTURE_HOSTS, fixtureHostContext, fixtureHostPath } from '../../helpers/fixture-host.js';

const OPTIONS: CollectOptions = { registries: null, registryTimeoutMs: 1000 };
const GIB = 1024 ** 3;

async function collect(name: string, options: CollectOptions = OPTIONS) {
  return collectFacts(fixtureHostContext(name), options);
}

const UBUNTU_2204 = {
  id: 'ubuntu',
  versionId: '22.04',
  prettyName: 'Ubuntu 22.04.5 LTS',
  idLike: ['debian'],
};

function expectDisks(facts: Facts, withContainerd: boolean) {
  expect(facts.disks.map((d) => d.path)).toEqual(withContainerd ? ['/', '/var/lib/containerd'] : ['/']);
  for (const d of facts.disks) {
    expect(d.capacityBytes).toBeGreaterThan(0);
    expect(d.freeBytes).toBeLessThanOrEqual(d.capacityBytes);
  }
}

describe('collectFacts on fixture hosts', () => {
  it('ubuntu2204-gpu-pass', async () => {
    const { facts, probeErrors } = await collect('ubuntu2204-gpu-pass');
    expect(probeErrors).toEqual([]);
    expect(facts.hostname).toBe('gpu-node-01');
    expect(facts.cpu).toEqual({
      arch: 'x86_64',
      logicalCores: 64,
      physicalCores: 32,
      model: 'AMD EPYC 7513 32-Core Processor',
    });
    expect(facts.memory).toEqual({ totalBytes: 528_069_632 * 1024 });
    expect(facts.os).toEqual({ ...UBUNTU_2204, kernelRelease: '5.15.0-131-generic' });
    expect(facts.gpu).toEqual({
      driverVersion: '570.124.04',
      cudaVersion: '12.8',
      devices: [
        {
          name: 'NVIDIA GeForce RTX 3060',
          uuid: 'GPU-d6889ff6-2523-9142-ca3c-1ca3f396a625',
          memoryMiB: 12288,
          pciBusId: '00000000:2D:00.0',
          migMode: null,
          brand: 'GeForce',
        },
      ],
      containerToolkit: { binary: 'nvidia-ctk', version: '1.17.8' },
      cudaForwardCompat: [],
    });
    expect(facts.jetson).toBeNull();
    expect(facts.containerd).toEqual({
      version: '1.7.27',
      raw: 'containerd containerd.io 1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da',
    });
    expect(facts.registries).toBeNull();
    expect(facts.dns?.nameservers).toEqual(['10.0.0.2', '10.0.0.3']);
    // The fixture's getent resolves its own name, as the host's /etc/hosts would.
    expect(facts.dns?.hostnameResolves).toBe(true);
    expect(facts.apiServerEncryption).toBeNull();
    expect(facts.pci).toEqual({ nvidiaGpus: 1 });
    expectDisks(facts, true);
  });

  it('gpu-operator: nvidia-smi only in the GPU Operator driver root, toolkit in its install dir', async () => {
    const { facts, probeErrors } = await collect('gpu-operator');
    expect(probeErrors).toEqual([]);
    expect(facts.gpu?.driverVersion).toBe('570.124.04');
    expect(facts.gpu?.cudaVersion).toBe('12.8');
    expect(facts.gpu?.devices.map((d) => d.name)).toEqual(['NVIDIA GeForce RTX 3060']);
    expect(facts.gpu?.containerToolkit).toEqual({ binary: 'nvidia-ctk', version: '1.17.8' });
    expect(facts.dns?.hostnameResolves).toBe(true);
  });

  it('a host without getent: whether its name resolves is unknown (null), never guessed', async () => {
    const { facts } = await collect('gpu-old-driver');
    expect(facts.dns?.nameservers.length).toBeGreaterThanOrEqual(0);
    expect(facts.dns?.hostnameResolves).toBeNull();
  });

  it('gpu-no-driver: an NVIDIA GPU on the PCI bus, no nvidia-smi', async () => {
    const { facts, probeErrors } = await collect('gpu-no-driver');
    expect(probeErrors).toEqual([]);
    expect(facts.gpu).toBeNull();
    expect(facts.pci).toEqual({ nvidiaGpus: 1 });
    expect(facts.containerd?.version).toBe('1.7.27');
    expect(Value.Errors(Facts, facts).First()?.message).toBeUndefined();
  });

  it('gpu-old-driver: A100 535.54.03 / CUDA 12.2', async () => {
    const { facts, probeErrors } = await collect('gpu-old-driver');
    expect(probeErrors).toEqual([]);
    expect(facts.gpu?.driverVersion).toBe('535.54.03');
    expect(facts.gpu?.cudaVersion).toBe('12.2');
    expect(facts.gpu?.devices.map((d) => [d.name, d.memoryMiB, d.migMode])).toEqual([
      ['NVIDIA A100-SXM4-80GB', 81920, 'Enabled'],
    ]);
  });

  it('gpu-535-216-cuda-caveat: driver 535.216.03 reporting CUDA 12.2', async () => {
    const { facts, probeErrors } = await collect('gpu-535-216-cuda-caveat');
    expect(probeErrors).toEqual([]);
    expect(facts.gpu?.driverVersion).toBe('535.216.03');
    expect(facts.gpu?.cudaVersion).toBe('12.2');
  });

  it('gpu-driver-failure: the driver message verbatim, other facts intact', async () => {
    const { facts, probeErrors } = await collect('gpu-driver-failure');
    expect(probeErrors).toEqual([
      {
        probe: 'gpu',
        kind: 'exec-failed',
        message:
          "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.",
      },
    ]);
    expect(facts.gpu).toBeNull();
    expect(facts.cpu?.logicalCores).toBe(64);
    expect(facts.containerd?.version).toBe('1.7.27');
  });

  it('jetson-jp62', async () => {
    const { facts, probeErrors } = await collect('jetson-jp62');
    expect(probeErrors).toEqual([]);
    expect(facts.cpu).toEqual({ arch: 'arm64', logicalCores: 6, physicalCores: null, model: '0xd42' });
    expect(facts.os).toEqual({ ...UBUNTU_2204, kernelRelease: '5.15.148-tegra' });
    expect(facts.jetson).toEqual({
      l4tVersion: '36.4.3',
      jetpackPackageVersion: '6.2+b77',
      cudaVersion: '12.6.68',
      board: 'generic',
    });
    // The JetPack release is the spec's to tell (spec/jetpack.ts): the agent reports the L4T release.
    expect(facts.jetson).not.toHaveProperty('jetpackVersion');
    expect(facts.gpu).toBeNull();
    expect(facts.memory?.totalBytes).toBe(7_620_600 * 1024);
  });

  it('jetson-jp60', async () => {
    const { facts, probeErrors } = await collect('jetson-jp60');
    expect(probeErrors).toEqual([]);
    expect(facts.jetson).toEqual({
      l4tVersion: '36.3.0',
      jetpackPackageVersion: '6.0+b106',
      cudaVersion: '12.2.140',
      board: 'generic',
    });
  });

  it('containerd-2x', async () => {
    const { facts, probeErrors } = await collect('containerd-2x');
    expect(probeErrors).toEqual([]);
    expect(facts.containerd?.version).toBe('2.1.4');
    expect(facts.os?.versionId).toBe('24.04');
    expect(facts.cpu).toMatchObject({ logicalCores: 64, physicalCores: 32 });
    expect(facts.gpu).toBeNull();
  });

  it('rhel9', async () => {
    const { facts, probeErrors } = await collect('rhel9');
    expect(probeErrors).toEqual([]);
    expect(facts.os).toEqual({
      id: 'rhel',
      versionId: '9.6',
      prettyName: 'Red Hat Enterprise Linux 9.6 (Plow)',
      idLike: ['fedora'],
      kernelRelease: '5.14.0-570.12.1.el9_6.x86_64',
    });
    expect(facts.cpu).toEqual({
      arch: 'x86_64',
      logicalCores: 16,
      physicalCores: 8,
      model: 'Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz',
    });
  });

  it('operator-small-memory', async () => {
    const { facts, probeErrors } = await collect('operator-small-memory');
    expect(probeErrors).toEqual([]);
    expect(facts.memory?.totalBytes).toBe(3_996_348 * 1024);
    expect(facts.memory!.totalBytes).toBeLessThan(4 * GIB);
    expect(facts.cpu?.logicalCores).toBe(4);
  });

  it('control-plane: aescbc encryption at rest', async () => {
    const { facts, probeErrors } = await collect('control-plane');
    expect(probeErrors).toEqual([]);
    expect(facts.apiServerEncryption).toEqual({
      manifestFound: true,
      encryptionConfigPath: '/etc/kubernetes/enc/encryption-config.yaml',
      hostConfigPath: '/etc/kubernetes/enc/encryption-config.yaml',
      firstProvider: 'aescbc',
      enabled: true,
      rules: [{ resources: ['secrets'], provider: 'aescbc' }],
      secrets: { provider: 'aescbc', matchedBy: 'secrets' },
      encrypted: [{ resource: 'secrets', provider: 'aescbc' }],
    });
  });

  it('bare: no GPU, no containerd, no Jetson', async () => {
    const { facts, probeErrors } = await collect('bare');
    expect(probeErrors).toEqual([]);
    expect(facts.gpu).toBeNull();
    expect(facts.containerd).toBeNull();
    expect(facts.jetson).toBeNull();
    expect(facts.pci).toBeNull(); // no sys/bus/pci: unknown, not zero
    expect(facts.os?.id).toBe('ubuntu');
    expect(facts.cpu).toMatchObject({ logicalCores: 4, physicalCores: 4 });
    expectDisks(facts, false);
  });

  it('every fixture host yields facts valid against the report schema', async () => {
    for (const host of FIXTURE_HOSTS) {
      if (host === 'gpu-nvidia-smi-hangs') continue; // covered with a short timeout in failures.test.ts
      const { facts } = await collect(host);
      expect(Value.Errors(Facts, facts).First()?.message, host).toBeUndefined();
    }
  });

  it('every fake command is an executable #!/bin/sh script', async () => {
    for (const host of await readdir(fixtureHostPath('.'))) {
      if (host === 'README.md') continue;
      const bin = `${fixtureHostPath(host)}/usr/bin`;
      for (const file of await readdir(bin)) {
        expect((await readFile(`${bin}/${file}`, 'utf8')).startsWith('#!/bin/sh\n'), `${host}/${file}`).toBe(
          true,
        );
        expect((await stat(`${bin}/${file}`)).mode & 0o111, `${host}/${file} mode`).toBe(0o111);
      }
    }
  });
});
