// Synthetic Facts for evaluation tests: a healthy Ubuntu 22.04 x86_64 host by default, each part
// replaceable, so a test states only what it is about.
import type { Facts, GpuFacts, JetsonFacts, RegistryResult } from '../../report/schema.js';

const GB = 1e9;

export function reachable(host: string): RegistryResult {
  return {
    host,
    endpoint: host,
    reachable: true,
    dnsResolved: true,
    httpStatus: 401,
    latencyMs: 42,
    error: null,
  };
}

export function unreachable(host: string, error = 'getaddrinfo ENOTFOUND'): RegistryResult {
  return {
    host,
    endpoint: host,
    reachable: false,
    dnsResolved: false,
    httpStatus: null,
    latencyMs: null,
    error,
  };
}

export function gpuFacts(driverVersion = '550.54.14', cudaVersion: string | null = '12.6'): GpuFacts {
  return {
    driverVersion,
    cudaVersion,
    devices: [
      {
        name: 'NVIDIA A100-SXM4-80GB',
        uuid: 'GPU-1',
        memoryMiB: 81920,
        pciBusId: '00000000:07:00.0',
        migMode: null,
      },
    ],
    containerToolkit: { binary: 'nvidia-ctk', version: '1.17.0' },
  };
}

export function jetsonFacts(over: Partial<JetsonFacts> = {}): JetsonFacts {
  return {
    l4tVersion: '36.4.3',
    jetpackPackageVersion: '6.2+b77',
    cudaVersion: '12.6',
    board: 'NVIDIA Jetson AGX Orin Developer Kit',
    ...over,
  };
}

export function buildFacts(over: Partial<Facts> = {}): Facts {
  return {
    hostname: 'node-1',
    cpu: { arch: 'x86_64', logicalCores: 32, physicalCores: 16, model: 'AMD EPYC 7302' },
    memory: { totalBytes: 256 * GB },
    disks: [{ path: '/', capacityBytes: 1000 * GB, freeBytes: 800 * GB }],
    os: {
      id: 'ubuntu',
      versionId: '22.04',
      prettyName: 'Ubuntu 22.04.5 LTS',
      idLike: ['debian'],
      kernelRelease: '5.15.0-1',
    },
    gpu: null,
    jetson: null,
    containerd: {
      version: '1.7.27',
      raw: 'containerd github.com/containerd/containerd v1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da',
    },
    registries: [reachable('nvcr.io'), reachable('ghcr.io'), reachable('docker.io')],
    dns: { nameservers: ['10.0.0.2'], hostnameResolves: true },
    apiServerEncryption: null,
    pci: null,
    ...over,
  };
}

export { GB };
