// Builders for NodeStates in the reconcile tests.
import type { NodeState } from '../../../aggregator/contracts.js';
import type { CheckResult, EvaluatedFacts, NodeResult, Role } from '../../../report/schema.js';

/** A result's facts (as evaluated). */
export function facts(overrides: Partial<EvaluatedFacts> = {}): EvaluatedFacts {
  return {
    hostname: null,
    cpu: null,
    memory: null,
    disks: [],
    os: null,
    gpu: {
      driverVersion: '535.216.03',
      cudaVersion: '12.2',
      devices: [],
      containerToolkit: null,
    },
    jetson: null,
    containerd: { version: '1.7.27', raw: 'containerd github.com/containerd/containerd v1.7.27' },
    registries: null,
    dns: null,
    apiServerEncryption: null,
    ...overrides,
  };
}

export function check(id: string, status: CheckResult['status']): CheckResult {
  return { id, status, observed: null, expected: null, message: id, remediation: null, source: null };
}

export function nodeState(
  node: string,
  verdict: 'pass' | 'warn' | 'fail',
  options: { role?: Role; checks?: CheckResult[]; facts?: EvaluatedFacts; stale?: boolean } = {},
): NodeState {
  const role = options.role ?? 'gpu';
  const checks =
    options.checks ??
    (verdict === 'fail'
      ? [check('gpu.driver', 'fail'), check('disk.free', 'fail'), check('cpu.arch', 'pass')]
      : verdict === 'warn'
        ? [check('registry.reachable', 'warn'), check('cpu.arch', 'pass')]
        : [check('cpu.arch', 'pass')]);
  const result: NodeResult = {
    node,
    role,
    roleSource: 'flag',
    verdict,
    facts: options.facts ?? facts(),
    probeErrors: [],
    checks,
    collectedAt: '2025-01-01T00:00:00Z',
    evaluatedAt: '2025-01-01T00:00:01Z',
    spec: { name: 'osmo-onprem', revision: '1' },
  };
  const stale = options.stale ?? false;
  return { node, role, verdict: stale ? 'unknown' : verdict, stale, result };
}
