// Sample facts and reports for the agent's tests (not a fixture host: the reporter never sees a host).
import type { Facts, ProbeError, Report } from '../../report/schema.js';

export const GIB = 1024 ** 3;

export function sampleFacts(overrides: Partial<Facts> = {}): Facts {
  return {
    hostname: 'gpu-node-1',
    cpu: { arch: 'x86_64', logicalCores: 32, physicalCores: 16, model: 'Test CPU' },
    memory: { totalBytes: 128 * GIB },
    disks: [{ path: '/', capacityBytes: 500 * GIB, freeBytes: 300 * GIB }],
    os: {
      id: 'ubuntu',
      versionId: '22.04',
      prettyName: 'Ubuntu 22.04.4 LTS',
      idLike: ['debian'],
      kernelRelease: '5.15.0',
    },
    gpu: null,
    jetson: null,
    containerd: { version: '1.7.27', raw: 'containerd github.com/containerd/containerd v1.7.27' },
    registries: [
      {
        host: 'nvcr.io',
        endpoint: 'nvcr.io',
        reachable: true,
        dnsResolved: true,
        httpStatus: 401,
        latencyMs: 120,
        error: null,
      },
    ],
    dns: { nameservers: ['10.0.0.10'], hostnameResolves: true },
    apiServerEncryption: null,
    ...overrides,
  };
}

export function sampleReport(facts: Facts = sampleFacts(), probeErrors: ProbeError[] = []): Report {
  return {
    schemaVersion: 1,
    node: 'gpu-node-1',
    agentVersion: '0.0.0-test',
    collectedAt: new Date().toISOString(),
    facts,
    probeErrors,
  };
}
