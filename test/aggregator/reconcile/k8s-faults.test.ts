import { afterEach, describe, expect, it } from 'vitest';
import { makeNode } from '../../../testing/k8s-emulator/index.js';
import { nodeState } from './helpers.js';
import {
  labels,
  metricValue,
  names,
  nodePatches,
  ourCondition,
  startEmulator,
  startIntegration,
  taints,
  waitFor,
} from './k8s-setup.js';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(
  nodes: ReturnType<typeof makeNode>[],
  options: Parameters<typeof startIntegration>[1] = {},
  emuOptions = {},
) {
  const emu = await startEmulator(nodes, emuOptions);
  cleanup.push(() => emu.close());
  const it = await startIntegration(emu, options);
  cleanup.push(() => it.integration.stop());
  return { emu, ...it };
}

const gpu = (name: string) => makeNode(name, { labels: { 'node-type': 'gpu' } });
const hasOurTaint = (t: { key: string }[]) => t.some((x) => x.key === names.taintKey);

describe('reconciler safety and API economy (emulator)', () => {
  it('circuit breaker: 5 of 10 gpu nodes fail → at most 25% tainted, Warning event, metric, log', async () => {
    const nodes = Array.from({ length: 10 }, (_, i) => gpu(`g${i}`));
    // The mass-change guard (its own tests) would hold some of the five: the breaker alone here.
    const { emu, integration, registry, lines } = await setup(nodes, { guardMaxPercent: 100 });
    // The other nodes report pass first, so the role is known to have 10 nodes.
    for (let i = 5; i < 10; i++) integration.sink.update(nodeState(`g${i}`, 'pass'));
    for (let i = 0; i < 5; i++) integration.sink.update(nodeState(`g${i}`, 'fail'));
    await integration.idle();
    const tainted = nodes.filter((n) =>
      hasOurTaint(taints(emu, String((n['metadata'] as { name: string }).name))),
    );
    expect(tainted.length).toBe(2);
    for (let i = 0; i < 5; i++) {
      expect(labels(emu, `g${i}`)[names.labels.conformant]).toBe('false');
      expect(ourCondition(emu, `g${i}`)?.status).toBe('True');
    }
    const warnings = emu.events('default').filter((e) => e['reason'] === 'TaintCircuitBreakerOpen');
    expect(warnings.length).toBe(3);
    expect(warnings.every((e) => e['type'] === 'Warning')).toBe(true);
    expect(String(warnings[0]?.['message'])).toContain('--max-tainted-percent');
    expect(
      await metricValue(registry, 'osmo_validator_taints_skipped_by_breaker_total', { role: 'gpu' }),
    ).toBe(3);
    expect(lines.some((l) => l.level === 'warn' && l.msg?.includes('--max-tainted-percent'))).toBe(true);
    // A repeated failing report does not repeat the warning event.
    integration.sink.update(nodeState('g4', 'fail'));
    await integration.idle();
    expect(emu.events('default').filter((e) => e['reason'] === 'TaintCircuitBreakerOpen').length).toBe(3);
  });

  it('a role of one node can still be tainted; NoExecute only when configured', async () => {
    const { emu, integration } = await setup([makeNode('j1'), makeNode('c1')], { taintEffect: 'NoExecute' });
    integration.sink.update(nodeState('j1', 'fail', { role: 'jetson' }));
    integration.sink.update(nodeState('c1', 'fail', { role: 'control-plane' }));
    await integration.idle();
    expect(taints(emu, 'j1')).toEqual([{ key: names.taintKey, value: 'true', effect: 'NoExecute' }]);
    expect(taints(emu, 'c1')).toEqual([]);
  });

  it('409 on the first patch: re-reads the node and retries', async () => {
    const { emu, integration, registry } = await setup([gpu('g1')]);
    emu.reset();
    emu.conflictOnFirstTry(1, '/api/v1/nodes/g1');
    integration.sink.update(nodeState('g1', 'fail'));
    await integration.idle();
    expect(hasOurTaint(taints(emu, 'g1'))).toBe(true);
    expect(emu.requestsBy('PATCH', '/api/v1/nodes/g1').map((r) => r.status)).toEqual([409, 200]);
    expect(emu.requestsBy('GET', '/api/v1/nodes/g1').length).toBe(1);
    expect(await metricValue(registry, 'osmo_validator_k8s_conflicts_total')).toBe(1);
  });

  it('a real conflict (node changed under us) keeps the other writer’s taint', async () => {
    const { emu, integration } = await setup([gpu('g1')]);
    // Another controller adds a taint the informer has not delivered yet: hold the watch.
    emu.stallWatches();
    emu.nodes.mutate('g1', (n) => {
      (n['spec'] as { taints?: unknown[] }).taints = [{ key: 'other', value: 'x', effect: 'NoSchedule' }];
    });
    integration.sink.update(nodeState('g1', 'fail'));
    await integration.idle();
    expect(taints(emu, 'g1')).toEqual([
      { key: 'other', value: 'x', effect: 'NoSchedule' },
      { key: names.taintKey, value: 'true', effect: 'NoSchedule' },
    ]);
  });

  it('429 with Retry-After: waits before retrying, then succeeds', async () => {
    const { emu, integration } = await setup([gpu('g1')]);
    emu.reset();
    emu.inject({ method: 'PATCH', path: '/api/v1/nodes/g1', status: 429, retryAfterSeconds: 1, times: 1 });
    integration.sink.update(nodeState('g1', 'fail'));
    await integration.idle();
    const patches = emu.requestsBy('PATCH', '/api/v1/nodes/g1');
    expect(patches.map((r) => r.status)).toEqual([429, 200]);
    expect((patches[1]?.at ?? 0) - (patches[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);
    expect(hasOurTaint(taints(emu, 'g1'))).toBe(true);
  });

  it('node deleted mid-reconcile: 404 → forgotten, no crash, others still reconciled', async () => {
    const { emu, integration, lines } = await setup([gpu('g1'), gpu('g2')]);
    emu.inject({ method: 'PATCH', path: '/api/v1/nodes/g1', delayMs: 150, times: 1 });
    integration.sink.update(nodeState('g1', 'fail'));
    await new Promise((resolve) => setTimeout(resolve, 30));
    emu.nodes.delete('g1');
    await integration.idle();
    expect(emu.nodes.get('g1')).toBeUndefined();
    // The informer's DELETED event may forget the node first; the in-flight patch then ends in 404.
    await waitFor(() => emu.requestsBy('PATCH', '/api/v1/nodes/g1')[0]?.status === 404, 2000, 'the 404');
    await waitFor(
      () => lines.some((l) => l.msg?.includes('deleted while being reconciled')),
      2000,
      'the log',
    );
    expect(lines.some((l) => l.level === 'error')).toBe(false);
    await waitFor(() => !integration.cluster.nodeNames().includes('g1'), 2000, 'g1 to leave the informer');
    integration.sink.update(nodeState('g2', 'pass'));
    await integration.idle();
    expect(labels(emu, 'g2')[names.labels.conformant]).toBe('true');
  });

  it('unknown node (404 on read): forgotten without a crash', async () => {
    const { emu, integration } = await setup([gpu('g1')]);
    integration.sink.update(nodeState('ghost', 'fail'));
    await integration.idle();
    expect(emu.requestsBy('PATCH', /ghost/).length).toBe(0);
    expect(integration.changes('ghost')).toEqual([]);
    expect(emu.requestsBy('GET', '/api/v1/nodes/ghost').map((r) => r.status)).toEqual([404]);
  });

  it('coalesces: several updates while a write is in flight → only the latest is written', async () => {
    const { emu, integration } = await setup([gpu('g1')]);
    emu.reset();
    emu.inject({ method: 'PATCH', path: '/api/v1/nodes/g1', delayMs: 100, times: 1 });
    integration.sink.update(nodeState('g1', 'pass'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    integration.sink.update(nodeState('g1', 'fail'));
    integration.sink.update(nodeState('g1', 'warn'));
    integration.sink.update(nodeState('g1', 'fail'));
    await integration.idle();
    // pass (in flight), then straight to the last one: fail.
    expect(emu.requestsBy('PATCH', '/api/v1/nodes/g1').length).toBe(2);
    expect(nodePatches(emu).length).toBeLessThanOrEqual(4);
    expect(labels(emu, 'g1')[names.labels.conformant]).toBe('false');
  });

  it('watchdog restarts a stalled watch and relists', async () => {
    const { emu, integration, registry } = await setup(
      [gpu('g1')],
      { watchdogMs: 300 },
      { bookmarkIntervalMs: 50 },
    );
    // Healthy (bookmarks flowing): the watchdog stays quiet.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(
      await metricValue(registry, 'osmo_validator_node_watch_restarts_total', { reason: 'watchdog' }),
    ).toBe(0);
    emu.stallWatches();
    emu.nodes.mutate('g1', (n) => {
      (n['metadata'] as { labels: Record<string, string> }).labels['late'] = 'yes';
    });
    await waitFor(
      () => integration.cluster.labelsOf('g1')?.['late'] === 'yes',
      3000,
      'the relist after the watchdog',
    );
    expect(
      await metricValue(registry, 'osmo_validator_node_watch_restarts_total', { reason: 'watchdog' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('relists after dropped watches and history compaction (410)', async () => {
    const { emu, integration } = await setup([gpu('g1')]);
    emu.dropWatches({ abrupt: true });
    emu.nodes.put(gpu('g2'));
    await waitFor(() => integration.cluster.nodeNames().includes('g2'), 3000, 'g2 after the dropped watch');
    emu.compactHistory();
    emu.dropWatches();
    emu.nodes.delete('g2');
    await waitFor(() => !integration.cluster.nodeNames().includes('g2'), 3000, 'g2 gone after the relist');
    expect(integration.ready().ok).toBe(true);
  });

  it('starts while the API server is unreachable: not ready, then syncs when it returns', async () => {
    const emu = await startEmulator([gpu('g1')]);
    cleanup.push(() => emu.close());
    emu.setUnreachable(true);
    const { integration } = await startIntegration(emu);
    cleanup.push(() => integration.stop());
    expect(integration.ready().ok).toBe(false);
    expect(integration.ready().reason).toMatch(/not synced/);
    emu.setUnreachable(false);
    await waitFor(() => integration.ready().ok, 4000, 'the informer to sync');
    expect(integration.cluster.nodeNames()).toEqual(['g1']);
  });

  it('server errors: per-node backoff, retried until written, failures counted', async () => {
    const { emu, integration, registry } = await setup([gpu('g1')]);
    emu.reset();
    emu.inject({ method: 'PATCH', path: '/api/v1/nodes/g1', status: 500, times: 2 });
    integration.sink.update(nodeState('g1', 'fail'));
    await waitFor(() => hasOurTaint(taints(emu, 'g1')), 4000, 'the taint after retries');
    await integration.idle();
    const patches = emu.requestsBy('PATCH', '/api/v1/nodes/g1');
    expect(patches.map((r) => r.status)).toEqual([500, 500, 200]);
    // Backoff (base 20 ms in tests, doubling): the retries are spaced out.
    expect((patches[2]?.at ?? 0) - (patches[1]?.at ?? 0)).toBeGreaterThanOrEqual(15);
    expect(
      await metricValue(registry, 'osmo_validator_k8s_write_failures_total', { kind: 'node-patch' }),
    ).toBe(2);
    expect(await metricValue(registry, 'osmo_validator_k8s_writes_total', { kind: 'node-patch' })).toBe(1);
  });
});
