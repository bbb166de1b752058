import { describe, expect, it } from 'vitest';
import { fingerprint, fingerprintChanged } from '../../agent/fingerprint.js';
import type { ProbeError } from '../../report/schema.js';
import { GIB, sampleFacts } from './sample.js';

const fp = (...args: Parameters<typeof fingerprint>) => fingerprint(...args);

describe('fingerprint', () => {
  it('is the same for the same facts regardless of key order', () => {
    const a = sampleFacts();
    const reordered = Object.fromEntries(Object.entries(a).reverse()) as typeof a;
    expect(fingerprintChanged(fp(a, []), fp(reordered, []))).toBe(false);
    expect(fingerprintChanged(null, fp(a, []))).toBe(true);
  });

  it('ignores registry latency but not reachability', () => {
    const base = sampleFacts();
    const slower = sampleFacts({ registries: [{ ...base.registries![0]!, latencyMs: 900 }] });
    const down = sampleFacts({
      registries: [{ ...base.registries![0]!, reachable: false, error: 'timeout' }],
    });
    expect(fingerprintChanged(fp(base, []), fp(slower, []))).toBe(false);
    expect(fingerprintChanged(fp(base, []), fp(down, []))).toBe(true);
  });

  it('ignores the OSMO service latency and the pull steps carry nothing volatile; a changed pull status counts', () => {
    const reg = sampleFacts().registries![0]!;
    const osmo = {
      url: 'https://osmo.example.com',
      endpoint: 'osmo.example.com',
      reachable: true,
      dnsResolved: true,
      httpStatus: 302,
      latencyMs: 20,
      error: null,
    };
    const pull = {
      image: 'nvidia/cuda:13.0.2-base-ubuntu24.04',
      status: 'ok' as const,
      httpStatus: 200,
      error: null,
    };
    const base = sampleFacts({ osmo, registries: [{ ...reg, pull }] });
    const slower = sampleFacts({ osmo: { ...osmo, latencyMs: 800 }, registries: [{ ...reg, pull }] });
    const blocked = sampleFacts({
      osmo,
      registries: [{ ...reg, pull: { ...pull, status: 'blocked', httpStatus: null, error: 'ECONNRESET' } }],
    });
    const down = sampleFacts({
      osmo: { ...osmo, reachable: false, error: 'ENOTFOUND' },
      registries: [{ ...reg, pull }],
    });
    expect(fingerprintChanged(fp(base, []), fp(slower, []))).toBe(false);
    expect(fingerprintChanged(fp(base, []), fp(blocked, []))).toBe(true);
    expect(fingerprintChanged(fp(base, []), fp(down, []))).toBe(true);
  });

  it('ignores disk free changes below max(1 GiB, 1%) and reports larger ones', () => {
    const disk = (capacity: number, free: number) =>
      sampleFacts({ disks: [{ path: '/', capacityBytes: capacity, freeBytes: free }] });
    const before = fp(disk(500 * GIB, 300 * GIB), []);
    // 1% of 500 GiB = 5 GiB is the threshold here.
    expect(fingerprintChanged(before, fp(disk(500 * GIB, 296 * GIB), []))).toBe(false);
    expect(fingerprintChanged(before, fp(disk(500 * GIB, 295 * GIB), []))).toBe(true);
    // On a small disk 1 GiB is the floor.
    const small = fp(disk(20 * GIB, 10 * GIB), []);
    expect(fingerprintChanged(small, fp(disk(20 * GIB, 10 * GIB - 512 * 1024 ** 2), []))).toBe(false);
    expect(fingerprintChanged(small, fp(disk(20 * GIB, 9 * GIB), []))).toBe(true);
    // Capacity is not volatile.
    expect(fingerprintChanged(before, fp(disk(501 * GIB, 300 * GIB), []))).toBe(true);
  });

  it('counts a new or different probe error as a change, not their order', () => {
    const facts = sampleFacts();
    const e1: ProbeError = { probe: 'gpu', kind: 'timeout', message: 'nvidia-smi did not answer' };
    const e2: ProbeError = { probe: 'dns', kind: 'read', message: 'ENOENT' };
    expect(fingerprintChanged(fp(facts, []), fp(facts, [e1]))).toBe(true);
    expect(fingerprintChanged(fp(facts, [e1, e2]), fp(facts, [e2, e1]))).toBe(false);
    expect(fingerprintChanged(fp(facts, [e1]), fp(facts, [{ ...e1, kind: 'exec-failed' }]))).toBe(true);
  });

  it('counts any other fact change', () => {
    const base = sampleFacts();
    expect(
      fingerprintChanged(fp(base, []), fp(sampleFacts({ containerd: { version: '1.7.28', raw: 'x' } }), [])),
    ).toBe(true);
    expect(fingerprintChanged(fp(base, []), fp(sampleFacts({ hostname: 'other' }), []))).toBe(true);
  });
});
