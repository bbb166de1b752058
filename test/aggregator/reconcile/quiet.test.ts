// A node found as desired is not planned again for identical reports (aggregator/reconcile/quiet.ts)
// until its condition's heartbeat is due, a report changes what it is computed from, or the Node changes.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { NodeState } from '../../../aggregator/contracts.js';
import { sameInputs } from '../../../aggregator/reconcile/quiet.js';
import { Reconciler } from '../../../aggregator/reconcile/reconciler.js';
import { makeNode } from '../../../testing/k8s-emulator/index.js';
import { facts, nodeState } from './helpers.js';
import { labels, names, ourCondition, startEmulator, startIntegration, waitFor } from './k8s-setup.js';

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** The same report again, as the aggregator stores it: a new result sharing facts, probe errors, checks. */
function again(state: NodeState, collectedAt: string): NodeState {
  if (!state.result) throw new Error('no result');
  return { ...state, result: { ...state.result, collectedAt, evaluatedAt: collectedAt } };
}

async function converged(options: Parameters<typeof startIntegration>[1] = {}) {
  const emu = await startEmulator([makeNode('g1', { labels: { 'node-type': 'gpu' } })]);
  cleanup.push(() => emu.close());
  const { integration } = await startIntegration(emu, { resyncMs: 0, ...options });
  cleanup.push(() => integration.stop());
  const reconciles = vi.spyOn(
    Reconciler.prototype as unknown as { reconcile(s: NodeState): Promise<void> },
    'reconcile',
  );
  const first = nodeState('g1', 'pass');
  integration.sink.update(first);
  await integration.idle();
  // The write comes back through the watch: the informer's copy is the node as written.
  await waitFor(() => ourCondition(emu, 'g1')?.status === 'False');
  integration.sink.update(again(first, '2025-01-01T00:00:10Z'));
  await integration.idle();
  reconciles.mockClear();
  return { emu, integration, reconciles, first };
}

describe('sameInputs', () => {
  const a = nodeState('g1', 'pass');
  it('holds for a report that shares facts, probe errors and checks', () => {
    expect(sameInputs(a, again(a, '2025-01-01T00:01:00Z'))).toBe(true);
  });
  it('fails for equal but separate facts, another verdict, a stale state', () => {
    expect(sameInputs(a, nodeState('g1', 'pass'))).toBe(false);
    expect(sameInputs(a, { ...again(a, 'x'), verdict: 'warn' })).toBe(false);
    expect(sameInputs(a, { ...again(a, 'x'), stale: true, verdict: 'unknown' })).toBe(false);
    expect(sameInputs(a, { ...a, result: null })).toBe(false);
  });
});

describe('quiet nodes (emulator)', () => {
  it('identical reports of a converged node are not planned; a changed one is, and is written', async () => {
    const { emu, integration, reconciles, first } = await converged();
    for (let i = 0; i < 20; i++) integration.sink.update(again(first, `2025-01-01T00:02:${10 + i}Z`));
    await integration.idle();
    expect(reconciles).not.toHaveBeenCalled();
    const newer = nodeState('g1', 'pass', { facts: facts({ containerd: { version: '1.7.28', raw: 'x' } }) });
    integration.sink.update(newer);
    await integration.idle();
    expect(reconciles).toHaveBeenCalledTimes(1);
    expect(labels(emu, 'g1')[names.labels.containerdVersion]).toBe('1.7.28');
  });

  it('a change to the Node (our label removed by someone) is repaired at the next identical report', async () => {
    const { emu, integration, first } = await converged();
    const node = emu.nodes.get('g1') as { metadata: { labels: Record<string, string> } };
    const { [names.labels.conformant]: _removed, ...rest } = node.metadata.labels;
    emu.nodes.put({ ...node, metadata: { ...node.metadata, labels: rest } });
    await new Promise((resolve) => setTimeout(resolve, 200)); // the informer's watch delivers it
    integration.sink.update(again(first, '2025-01-01T00:03:00Z'));
    await integration.idle();
    await waitFor(() => labels(emu, 'g1')[names.labels.conformant] === 'true', 3000, 'the label restored');
  });

  it('the heartbeat is still written once it is due', async () => {
    let now = Date.now();
    const { emu, integration, first } = await converged({ heartbeatThrottleMs: 60_000, now: () => now });
    emu.reset();
    integration.sink.update(again(first, '2025-01-01T00:04:00Z'));
    await integration.idle();
    expect(emu.writes()).toBe(0);
    now += 61_000;
    integration.sink.update(again(first, '2025-01-01T00:05:00Z'));
    await integration.idle();
    expect(emu.requestsBy('PATCH', '/api/v1/nodes/g1/status').length).toBe(1);
  });
});
