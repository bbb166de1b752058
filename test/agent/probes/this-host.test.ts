// collectFacts against this machine (host root `/`, local mode): only what is certain here is asserted.
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { collectFacts } from '../../../agent/collect.js';
import { createHostContext } from '../../../agent/host.js';
import { parseCpuList } from '../../../agent/probes/cpu.js';
import { Facts } from '../../../report/schema.js';

describe('collectFacts on this machine', () => {
  it('reads / with registries skipped', async () => {
    const { facts, probeErrors } = await collectFacts(createHostContext({ root: '/', execMode: 'local' }), {
      registries: null,
      registryTimeoutMs: 1000,
    });
    const online = await readFile('/sys/devices/system/cpu/online', 'utf8').then(parseCpuList, () => null);
    expect([availableParallelism(), online]).toContain(facts.cpu?.logicalCores);
    expect(facts.memory?.totalBytes).toBeGreaterThan(0);
    expect(facts.disks[0]?.path).toBe('/');
    expect(facts.registries).toBeNull();
    expect(probeErrors.map((e) => e.probe)).not.toContain('cpu');
    // Whatever this machine is, the result must be a valid report body.
    expect(Value.Check(Facts, facts)).toBe(true);
  });
});
