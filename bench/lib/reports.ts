// Realistic report bodies: the facts collected from fixture hosts by the real collector, with the node
// name varied. `oldDriver` turns a passing GPU node into a failing one (gpu.driver below 535.216.03).
import { collectFacts } from '../../agent/collect.js';
import type { Facts, ProbeError, Report } from '../../report/schema.js';
import { type FixtureHostName, fixtureHostContext } from '../../test/helpers/fixture-host.js';

export const OLD_DRIVER = '535.54.03';

export interface FactsSample {
  facts: Facts;
  probeErrors: ProbeError[];
}

export async function fixtureFacts(host: FixtureHostName): Promise<FactsSample> {
  return collectFacts(fixtureHostContext(host), { registries: null, registryTimeoutMs: 1000 });
}

export function nodeName(i: number): string {
  return `bench-node-${String(i).padStart(5, '0')}`;
}

export function makeReport(sample: FactsSample, node: string, opts: { oldDriver?: boolean } = {}): Report {
  const facts: Facts =
    opts.oldDriver && sample.facts.gpu
      ? { ...sample.facts, gpu: { ...sample.facts.gpu, driverVersion: OLD_DRIVER } }
      : sample.facts;
  return {
    schemaVersion: 1,
    node,
    agentVersion: '0.1.0',
    collectedAt: new Date().toISOString(),
    facts: { ...facts, hostname: node },
    probeErrors: sample.probeErrors,
  };
}
