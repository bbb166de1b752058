// The taint circuit breaker as its own part: reservations count concurrent taints, a refusal is announced
// once per node until it stops wanting a taint, and dry-run keeps planned taints reserved.
import { describe, expect, it } from 'vitest';
import type { NodeView } from '../../../aggregator/k8s/node-view.js';
import { TaintBreaker } from '../../../aggregator/reconcile/breaker.js';
import { DEFAULT_TAINT_ROLES, desiredState } from '../../../aggregator/reconcile/desired.js';
import type { Role } from '../../../report/schema.js';
import { nodeState } from './helpers.js';
import { names } from './k8s-setup.js';

function setup(count: number, dryRun = false) {
  const nodes: NodeView[] = Array.from({ length: count }, (_, i) => ({ metadata: { name: `g${i}` } }));
  const breaker = new TaintBreaker({
    names,
    maxTaintedPercent: 25,
    dryRun,
    nodes: () => nodes,
    roleOf: (): Role => 'gpu',
    reservedRole: (): Role => 'gpu',
  });
  const failing = (i: number) =>
    desiredState(nodeState(`g${i}`, 'fail'), names, {
      taintRoles: DEFAULT_TAINT_ROLES,
      taintEffect: 'NoSchedule',
    });
  return { nodes, breaker, failing };
}

describe('TaintBreaker', () => {
  it('reserves admitted taints: 25% of 8 nodes is 2, the third is refused with one notice', () => {
    const { nodes, breaker, failing } = setup(8);
    expect(breaker.admit(nodes[0]!, failing(0)).allowed).toBe(true);
    expect(breaker.admit(nodes[1]!, failing(1)).allowed).toBe(true);
    const refused = breaker.admit(nodes[2]!, failing(2));
    expect(refused).toMatchObject({ allowed: false, notice: { tainted: 2, roleNodes: 8, allowed: 2 } });
    expect(refused.allowed ? '' : refused.notice?.message).toContain('not tainting g2: 2 of 8 gpu node(s)');
    expect(breaker.admit(nodes[2]!, failing(2))).toEqual({ allowed: false });
    // A reserved node asking again is still allowed (its own reservation is not counted against it).
    expect(breaker.admit(nodes[0]!, failing(0)).allowed).toBe(true);
  });

  it('released reservations free the share; a node that stopped wanting a taint is told again', () => {
    const { nodes, breaker, failing } = setup(4);
    expect(breaker.admit(nodes[0]!, failing(0)).allowed).toBe(true);
    expect(breaker.admit(nodes[1]!, failing(1))).toMatchObject({ allowed: false, notice: {} });
    breaker.notWanted('g1', 'absent');
    breaker.release('g0');
    expect(breaker.admit(nodes[1]!, failing(1)).allowed).toBe(true);
    expect(breaker.admit(nodes[2]!, failing(2))).toMatchObject({ allowed: false, notice: {} });
  });

  it('dry-run keeps planned taints reserved until the node no longer wants one', () => {
    const { nodes, breaker, failing } = setup(4, true);
    expect(breaker.admit(nodes[0]!, failing(0)).allowed).toBe(true);
    breaker.release('g0');
    expect(breaker.admit(nodes[1]!, failing(1)).allowed).toBe(false);
    breaker.notWanted('g0', 'unchanged');
    expect(breaker.admit(nodes[1]!, failing(1)).allowed).toBe(false);
    breaker.notWanted('g0', 'absent');
    expect(breaker.admit(nodes[1]!, failing(1)).allowed).toBe(true);
  });
});
