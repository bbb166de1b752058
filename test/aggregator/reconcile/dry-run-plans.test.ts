// Dry-run records each distinct plan once per node and kind, however many other changes came in between.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { KubeApi } from '../../../aggregator/k8s/kube-api.js';
import type { NodeView } from '../../../aggregator/k8s/node-view.js';
import { TokenBucket } from '../../../aggregator/k8s/rate-limit.js';
import { DEFAULT_TAINT_ROLES } from '../../../aggregator/reconcile/desired.js';
import { makeReconcileMetrics } from '../../../aggregator/reconcile/metrics.js';
import { type NodeCache, Reconciler } from '../../../aggregator/reconcile/reconciler.js';
import { makeNode } from '../../../testing/k8s-emulator/index.js';
import { nodeState } from './helpers.js';
import { memoryLogger, names } from './k8s-setup.js';

function setup(count: number) {
  const nodes = new Map<string, NodeView>();
  for (let i = 0; i < count; i++) nodes.set(`n${i}`, makeNode(`n${i}`) as NodeView);
  const cache: NodeCache = {
    get: (name) => nodes.get(name),
    all: () => [...nodes.values()],
    observe: () => {},
    evict: () => {},
  };
  const fail = () => Promise.reject(new Error('dry-run must not call the API'));
  const api: KubeApi = { patchNode: fail, patchNodeStatus: fail, readNode: fail, createEvent: fail };
  const { lines, logger } = memoryLogger();
  const reconciler = new Reconciler({
    api,
    cache,
    names,
    desired: { taintRoles: DEFAULT_TAINT_ROLES, taintEffect: 'NoSchedule' },
    dryRun: true,
    maxTaintedPercent: 100,
    heartbeatThrottleMs: 300_000,
    eventNamespace: 'default',
    concurrency: 8,
    limiter: new TokenBucket(1e6, 1e6),
    metrics: makeReconcileMetrics(new Registry()),
    logger,
  });
  const planned = () => lines.filter((l) => l.msg === 'dry-run: planned change (not written)').length;
  return { reconciler, planned };
}

describe('dry-run plans', () => {
  it('an unchanged plan is not recorded again, even after 1000 other changes pushed it out of the log', async () => {
    const { reconciler, planned } = setup(601);
    reconciler.update(nodeState('n0', 'pass', { role: 'operator' }));
    await reconciler.idle();
    const first = planned();
    expect(first).toBeGreaterThanOrEqual(2); // labels + condition
    for (let i = 1; i <= 600; i++) reconciler.update(nodeState(`n${i}`, 'pass', { role: 'operator' }));
    await reconciler.idle();
    expect(reconciler.changes('n0')).toEqual([]); // out of the bounded log
    expect(reconciler.changes().length).toBe(1000);
    const before = planned();
    reconciler.update(nodeState('n0', 'pass', { role: 'operator' }));
    await reconciler.idle();
    expect(planned()).toBe(before);
    // A different plan is recorded; going back is recorded again.
    reconciler.update(nodeState('n0', 'fail', { role: 'operator' }));
    await reconciler.idle();
    expect(planned()).toBeGreaterThan(before);
    expect(reconciler.changes('n0').length).toBeGreaterThan(0);
    const afterFail = planned();
    reconciler.update(nodeState('n0', 'pass', { role: 'operator' }));
    await reconciler.idle();
    expect(planned()).toBeGreaterThan(afterFail);
  });

  it('forgetting a node forgets its plans', async () => {
    const { reconciler, planned } = setup(1);
    reconciler.update(nodeState('n0', 'pass', { role: 'operator' }));
    await reconciler.idle();
    const once = planned();
    reconciler.forget('n0');
    reconciler.update(nodeState('n0', 'pass', { role: 'operator' }));
    await reconciler.idle();
    expect(planned()).toBe(once * 2);
  });
});
