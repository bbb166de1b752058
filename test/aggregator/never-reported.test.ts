// Every node of the cluster is in the API (from the informer): one whose agent never reported is listed
// with verdict unknown and the reason, and after the grace period it gets conformant=unknown and the
// condition Unknown (NoAgentReport) — through the mass-change guard, so a DaemonSet that fails to roll
// out does not switch the fleet off.
import { afterEach, describe, expect, it } from 'vitest';
import { NodeStore } from '../../aggregator/store.js';
import { makeNode } from '../../testing/k8s-emulator/index.js';
import { makeApp, sampleReport, type TestApp } from './harness.js';
import { nodeState } from './reconcile/helpers.js';
import {
  labels,
  names,
  ourCondition,
  startEmulator,
  startIntegration,
  taints,
} from './reconcile/k8s-setup.js';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const GRACE = 60_000;

async function setup(nodeNames: string[]) {
  const emu = await startEmulator(nodeNames.map((n) => makeNode(n, { labels: { 'node-type': 'gpu' } })));
  cleanup.push(() => emu.close());
  const { integration } = await startIntegration(emu, { resyncMs: 0 });
  cleanup.push(() => integration.stop());
  const store = new NodeStore({
    staleAfterMs: 15 * 60_000,
    sink: integration.sink,
    cluster: integration.cluster,
    managedNodes: integration.managedNodes,
    clusterNodes: integration.clusterNodes,
    neverReportedGraceMs: GRACE,
  });
  const t: TestApp = await makeApp({ store, kubernetes: integration });
  cleanup.push(() => t.app.close());
  return { emu, integration, store, app: t.app };
}

describe('nodes that never reported', () => {
  it('are listed as unknown "never reported", then written Unknown/NoAgentReport after the grace', async () => {
    const { emu, integration, store, app } = await setup(['a', 'b']);
    const t0 = Date.now();
    store.accept(sampleReport('a'), nodeState('a', 'pass').result!, t0);
    store.sweep(t0);
    await integration.idle();
    const list = (await app.inject({ method: 'GET', url: '/api/v1/nodes' })).json();
    expect(list.nodes.map((n: { name: string }) => n.name)).toEqual(['a', 'b']);
    expect(list.nodes[1]).toMatchObject({
      name: 'b',
      verdict: 'unknown',
      reason: 'never reported',
      stale: false,
    });
    const summary = (await app.inject({ method: 'GET', url: '/api/v1/summary' })).json();
    expect(summary.byVerdict).toMatchObject({ total: 2, unknown: 1 });
    // Within the grace nothing is written to b.
    expect(ourCondition(emu, 'b')).toBeUndefined();
    store.sweep(t0 + GRACE);
    await integration.idle();
    expect(ourCondition(emu, 'b')).toMatchObject({ status: 'Unknown', reason: 'NoAgentReport' });
    expect(labels(emu, 'b')[names.labels.conformant]).toBe('unknown');
    expect(labels(emu, 'b')[names.labels.role]).toBeUndefined();
    expect(taints(emu, 'b')).toEqual([]);
    const after = (await app.inject({ method: 'GET', url: '/api/v1/nodes?stale=true' })).json();
    expect(after.nodes.map((n: { name: string }) => n.name)).toEqual(['b']);
  });

  it('a DaemonSet that never rolls out does not switch the fleet off: the guard holds all but the share', async () => {
    const all = Array.from({ length: 10 }, (_, i) => `n${i}`);
    const { emu, integration, store } = await setup(all);
    const t0 = Date.now();
    store.sweep(t0);
    store.sweep(t0 + GRACE);
    await integration.idle();
    expect(all.filter((n) => ourCondition(emu, n)?.status === 'Unknown').length).toBe(3);
    expect(integration.guard().held.length).toBe(7);
    expect(integration.guard().held.every((h) => h.from === 'none' && h.reason === 'NoAgentReport')).toBe(
      true,
    );
  });
});
