// The spec's `cluster:` section: optional, each threshold defaulting to the built-in numbers, and every
// problem named by file, field and what is wrong, like the rest of the spec.
import { describe, expect, it } from 'vitest';
import { parseSpec, SpecError } from '../../spec/load.js';
import { DEFAULT_CLUSTER_RULES } from '../../spec/spec-types.js';

const BASE = `apiVersion: validator.osmo.nvidia.com/v1alpha1
kind: NodeBaseline
metadata: { name: test, revision: "1" }
checks:
  - id: memory.total
    description: memory
    rule: minQuantity
    fact: memory.totalBytes
    severity: fail
    remediation: add memory
    source: seed
    roles:
      operator: { min: 8GB }
`;

function errorOf(cluster: string): string {
  try {
    parseSpec(`${BASE}cluster:\n${cluster}`, 'site.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    return (err as SpecError).message;
  }
  throw new Error('expected a SpecError');
}

describe('spec cluster: section', () => {
  it('absent or empty: the default thresholds', () => {
    expect(parseSpec(BASE, 'site.yaml').cluster).toEqual(DEFAULT_CLUSTER_RULES);
    expect(parseSpec(`${BASE}cluster:\n`, 'site.yaml').cluster).toEqual(DEFAULT_CLUSTER_RULES);
    expect(parseSpec(`${BASE}cluster:\n  controlPlaneHa:\n`, 'site.yaml').cluster).toEqual(
      DEFAULT_CLUSTER_RULES,
    );
  });

  it('each threshold may be set alone; the others keep their defaults', () => {
    const spec = parseSpec(`${BASE}cluster:\n  controlPlaneHa: { minNodes: 5 }\n`, 'site.yaml');
    expect(spec.cluster).toEqual({ ...DEFAULT_CLUSTER_RULES, controlPlaneHa: { minNodes: 5 } });
    const ops = parseSpec(`${BASE}cluster:\n  operatorNodes: { maxNodes: 6 }\n`, 'site.yaml');
    expect(ops.cluster.operatorNodes).toEqual({ minNodes: 1, maxNodes: 6 });
    // No upper limit unless one is set: the requirements set none.
    const raised = parseSpec(`${BASE}cluster:\n  operatorNodes: { minNodes: 4 }\n`, 'site.yaml');
    expect(raised.cluster.operatorNodes).toEqual({ minNodes: 4 });
  });

  it('names the file, the field and the problem', () => {
    expect(errorOf('  controlPlaneHA: { minNodes: 3 }\n')).toBe(
      'site.yaml: cluster.controlPlaneHA: unknown field (allowed here: controlPlaneHa, operatorNodes)',
    );
    expect(errorOf('  controlPlaneHa: { min: 3 }\n')).toBe(
      'site.yaml: cluster.controlPlaneHa.min: unknown field (allowed here: minNodes)',
    );
    expect(errorOf('  controlPlaneHa: { minNodes: 0 }\n')).toBe(
      'site.yaml: cluster.controlPlaneHa.minNodes: number 0 is not a whole number of at least 1',
    );
    expect(errorOf('  operatorNodes: { minNodes: "two" }\n')).toBe(
      'site.yaml: cluster.operatorNodes.minNodes: "two" is not a whole number of at least 0',
    );
    expect(errorOf('  operatorNodes: { minNodes: 3, maxNodes: 2 }\n')).toBe(
      'site.yaml: cluster.operatorNodes.maxNodes: 2 is below minNodes (3)',
    );
    expect(errorOf('  - controlPlaneHa\n')).toBe('site.yaml: cluster: must be a mapping, got a list');
  });
});
