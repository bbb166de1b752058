// The mass-change guard (emulator, real client): a flood of failing reports, mass Unknown and a bad spec
// reload each turn at most the share of a role; the rest is held (previous condition, label, taint kept),
// served, counted and announced once, and released by the accept annotation or the share falling back.
import { afterEach, describe, expect, it } from 'vitest';
import { exceedsShare, isBadTransition } from '../../../aggregator/reconcile/guard.js';
import { NodeStore } from '../../../aggregator/store.js';
import type { NodeResult, Report } from '../../../report/schema.js';
import { makeNode } from '../../../testing/k8s-emulator/index.js';
import { nodeState } from './helpers.js';
import {
  labels,
  metricValue,
  names,
  ourCondition,
  startEmulator,
  startIntegration,
  taints,
  waitFor,
} from './k8s-setup.js';

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const gpu = (name: string) => makeNode(name, { labels: { 'node-type': 'gpu' } });
const names10 = Array.from({ length: 10 }, (_, i) => `g${i}`);

async function setup(options: Parameters<typeof startIntegration>[1] = {}) {
  const emu = await startEmulator(names10.map(gpu));
  cleanup.push(() => emu.close());
  const it = await startIntegration(emu, { resyncMs: 0, ...options });
  cleanup.push(() => it.integration.stop());
  for (const n of names10) it.integration.sink.update(nodeState(n, 'pass'));
  await it.integration.idle();
  return { emu, ...it };
}

const statusOf = (emu: Parameters<typeof ourCondition>[0], n: string) => ourCondition(emu, n)?.status;

describe('mass-change guard (pure)', () => {
  it('counts only transitions OSMO acts on, never blocks one node', () => {
    expect(isBadTransition('False', 'True')).toBe(true);
    expect(isBadTransition(undefined, 'Unknown')).toBe(true);
    expect(isBadTransition('True', 'Unknown')).toBe(false);
    expect(isBadTransition('False', 'False')).toBe(false);
    expect(exceedsShare(1, 1, 30)).toBe(false);
    expect(exceedsShare(3, 10, 30)).toBe(false);
    expect(exceedsShare(4, 10, 30)).toBe(true);
    expect(exceedsShare(2, 2, 30)).toBe(true);
  });
});

describe('mass-change guard (emulator)', () => {
  it('a flood of failing reports: 3 of 10 written, 5 held with their previous state, one event, metric, release by annotation', async () => {
    const { emu, integration, registry } = await setup();
    for (let i = 0; i < 8; i++) integration.sink.update(nodeState(`g${i}`, 'fail'));
    await integration.idle();
    const failed = names10.filter((n) => statusOf(emu, n) === 'True');
    expect(failed.length).toBe(3);
    const held = integration.guard().held;
    expect(held.map((h) => h.node).sort()).toEqual(names10.slice(0, 8).filter((n) => !failed.includes(n)));
    for (const h of held) {
      expect(h).toMatchObject({ role: 'gpu', from: 'False', to: 'True', reason: 'BaselineNotMet' });
      expect(statusOf(emu, h.node)).toBe('False');
      expect(labels(emu, h.node)[names.labels.conformant]).toBe('true');
      expect(taints(emu, h.node)).toEqual([]);
      expect(integration.nodeStatus(h.node).held?.node).toBe(h.node);
    }
    expect(await metricValue(registry, 'osmo_validator_guard_held_nodes', { role: 'gpu' })).toBe(5);
    const events = emu.events('default').filter((e) => e['reason'] === 'MassChangeHeld');
    expect(events.length).toBe(1);
    expect(String(events[0]?.['message'])).toContain(names.annotations.acceptTransition);
    // The operator accepts two of them.
    const at = new Date(Date.now() + 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    for (const h of held.slice(0, 2)) {
      emu.nodes.mutate(h.node, (n) => {
        const meta = n['metadata'] as { annotations?: Record<string, string> };
        meta.annotations = { ...meta.annotations, [names.annotations.acceptTransition]: at };
      });
    }
    for (const h of held.slice(0, 2)) {
      await waitFor(() => statusOf(emu, h.node) === 'True', 3000, `${h.node} accepted`);
    }
    expect(labels(emu, held[0]?.node ?? '')[names.labels.conformant]).toBe('false');
    expect(integration.guard().held.length).toBe(3);
    expect(await metricValue(registry, 'osmo_validator_guard_held_nodes', { role: 'gpu' })).toBe(3);
  });

  it('released when the share falls back: the held nodes recover, or enough failing ones pass again', async () => {
    const { emu, integration } = await setup();
    for (let i = 0; i < 6; i++) integration.sink.update(nodeState(`g${i}`, 'fail'));
    await integration.idle();
    const held = integration.guard().held.map((h) => h.node);
    expect(held.length).toBe(3);
    // Two held nodes pass again (no longer held) and one written one recovers: the third fits the share.
    integration.sink.update(nodeState(held[0] ?? '', 'pass'));
    integration.sink.update(nodeState(held[1] ?? '', 'pass'));
    const written = names10.slice(0, 6).filter((n) => !held.includes(n));
    integration.sink.update(nodeState(written[0] ?? '', 'pass'));
    await integration.idle();
    integration.sink.update(nodeState(held[2] ?? '', 'fail'));
    await integration.idle();
    expect(integration.guard().held).toEqual([]);
    expect(statusOf(emu, held[2] ?? '')).toBe('True');
  });

  it('mass Unknown (every agent silent at once): at most the share turns Unknown', async () => {
    const { emu, integration } = await setup();
    for (const n of names10) integration.sink.update(nodeState(n, 'pass', { stale: true }));
    await integration.idle();
    expect(names10.filter((n) => statusOf(emu, n) === 'Unknown').length).toBe(3);
    expect(integration.guard().held.every((h) => h.to === 'Unknown')).toBe(true);
    expect(integration.guard().held.length).toBe(7);
    for (const h of integration.guard().held) {
      expect(labels(emu, h.node)[names.labels.conformant]).toBe('true');
    }
  });

  it('a spec reload that fails every node is staged: held, served, not written', async () => {
    const { emu, integration } = await setup();
    const store = new NodeStore({ staleAfterMs: 3_600_000, sink: integration.sink });
    for (const n of names10) {
      const result = nodeState(n, 'pass').result as NodeResult;
      store.accept({ node: n } as Report, result);
    }
    await integration.idle();
    const outcome = await store.reevaluate((report) => nodeState(report.node, 'fail').result as NodeResult);
    expect(outcome.notified).toBe(10);
    await integration.idle();
    expect(names10.filter((n) => statusOf(emu, n) === 'True').length).toBe(3);
    expect(integration.guard().held.length).toBe(7);
    expect(integration.guard().held[0]?.message).toContain('failing checks');
  });

  it('dry-run: the guard applies to the plans', async () => {
    const { emu, integration } = await setup({ dryRun: true });
    for (const n of names10) integration.sink.update(nodeState(n, 'fail'));
    await integration.idle();
    expect(names10.filter((n) => statusOf(emu, n) === 'True')).toEqual([]);
    const planned = new Set(
      integration
        .changes()
        .filter((c) => c.kind === 'status-patch' && c.summary.includes('=True'))
        .map((c) => c.node),
    );
    expect(planned.size).toBe(3);
  });
});
