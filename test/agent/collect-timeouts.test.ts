// The bound collectFacts puts on each probe: the registries probe follows --registry-timeout in every
// command (check and agent alike), with room for concurrent registries' DNS and TLS setup.
import { describe, expect, it } from 'vitest';
import { PROBES, probeTimeoutMs, REGISTRIES_PROBE_MARGIN_MS } from '../../agent/collect.js';

describe('probeTimeoutMs', () => {
  it('registries: twice the registry timeout (/v2/, then the pull) plus the margin, short or long', () => {
    expect(REGISTRIES_PROBE_MARGIN_MS).toBe(2000);
    expect(probeTimeoutMs('registries', { registries: ['nvcr.io'], registryTimeoutMs: 300 })).toBe(2600);
    expect(probeTimeoutMs('registries', { registries: ['nvcr.io'], registryTimeoutMs: 60_000 })).toBe(
      122_000,
    );
  });

  it('osmo: the registry timeout plus the margin', () => {
    const options = { registries: null, registryTimeoutMs: 300, osmoUrl: 'https://osmo.example.com' };
    expect(probeTimeoutMs('osmo', options)).toBe(2300);
  });

  it('other probes keep their own bound; an explicit override wins', () => {
    const options = { registries: null, registryTimeoutMs: 60_000 };
    expect(probeTimeoutMs('gpu', options)).toBe(PROBES.gpu.timeoutMs);
    expect(probeTimeoutMs('dns', options)).toBe(PROBES.dns.timeoutMs);
    expect(probeTimeoutMs('registries', { ...options, timeoutsMs: { registries: 500 } })).toBe(500);
    expect(probeTimeoutMs('gpu', { ...options, timeoutsMs: { gpu: 400 } })).toBe(400);
  });
});
