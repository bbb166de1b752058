// Level-triggered reconciliation: failed writes are retried for ever (capped backoff), and the periodic
// resync compares each known node's current state (staleness re-read from the store) with the informer's
// copy and writes only the difference.
import { afterEach, describe, expect, it } from 'vitest';
import { NodeStore } from '../../../aggregator/store.js';
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
  waitFor,
} from './k8s-setup.js';

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const gpu = (name: string) => makeNode(name, { labels: { 'node-type': 'gpu' } });

async function setup(nodes: ReturnType<typeof makeNode>[], options: Parameters<typeof startIntegration>[1]) {
  const emu = await startEmulator(nodes);
  cleanup.push(() => emu.close());
  const it = await startIntegration(emu, options);
  cleanup.push(() => it.integration.stop());
  return { emu, ...it };
}

describe('retry and resync (emulator)', () => {
  it('a silent node turns Unknown after an API outage longer than the old attempts (retries never give up)', async () => {
    const { emu, integration } = await setup([gpu('g1')], {
      backoffBaseMs: 5,
      backoffCapMs: 40,
      resyncMs: 0,
    });
    integration.sink.update(nodeState('g1', 'pass'));
    await integration.idle();
    expect(ourCondition(emu, 'g1')?.status).toBe('False');
    // The outage: every write fails for 1.5 s — longer than 8 attempts of a 5 ms doubling backoff.
    const outage = emu.inject({
      method: 'PATCH',
      path: /^\/api\/v1\/nodes\/g1/,
      status: 500,
      times: Infinity,
    });
    integration.sink.update(nodeState('g1', 'pass', { stale: true }));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(outage.hits).toBeGreaterThan(8);
    outage.cancel();
    await waitFor(() => ourCondition(emu, 'g1')?.status === 'Unknown', 3000, 'the Unknown condition');
    expect(labels(emu, 'g1')[names.labels.conformant]).toBe('unknown');
  });

  it('resync repairs a label removed by someone else and a condition lost, without a new report', async () => {
    const { emu, integration, registry } = await setup([gpu('g1'), gpu('g2')], { resyncMs: 200 });
    integration.sink.update(nodeState('g1', 'fail'));
    integration.sink.update(nodeState('g2', 'pass'));
    await integration.idle();
    emu.nodes.mutate('g1', (n) => {
      delete (n['metadata'] as { labels: Record<string, string> }).labels[names.labels.conformant];
    });
    emu.nodes.mutate('g2', (n) => {
      const status = n['status'] as { conditions: { type: string }[] };
      status.conditions = status.conditions.filter((c) => c.type !== names.conditionType);
    });
    await waitFor(() => labels(emu, 'g1')[names.labels.conformant] === 'false', 3000, 'the label back');
    await waitFor(() => ourCondition(emu, 'g2')?.status === 'False', 3000, 'the condition back');
    expect(await metricValue(registry, 'osmo_validator_resync_repairs_total')).toBeGreaterThanOrEqual(2);
  });

  it('staleness is a level: a stale transition the reconciler never heard of is written at the resync', async () => {
    const { emu, integration } = await setup([gpu('g1')], { resyncMs: 200 });
    let now = 1_000_000;
    // The sink drops every update but the first: the store's stale edge never reaches the reconciler.
    let calls = 0;
    const store = new NodeStore({
      staleAfterMs: 60_000,
      sink: {
        update: (s) => {
          if (calls++ === 0) integration.sink.update(s);
        },
        forget: () => {},
      },
    });
    integration.setStateSource((node) => store.stateOf(node, now));
    store.accept(
      { node: 'g1' } as never,
      nodeState('g1', 'pass').result as NonNullable<ReturnType<typeof nodeState>['result']>,
      now,
    );
    await integration.idle();
    expect(ourCondition(emu, 'g1')?.status).toBe('False');
    now += 61_000;
    store.sweep(now);
    await waitFor(() => ourCondition(emu, 'g1')?.status === 'Unknown', 3000, 'Unknown from the resync');
    expect(labels(emu, 'g1')[names.labels.conformant]).toBe('unknown');
  });

  it('resync of unchanged nodes writes nothing and reads nothing', async () => {
    const nodes = Array.from({ length: 20 }, (_, i) => gpu(`g${i}`));
    const { emu, integration } = await setup(nodes, { resyncMs: 100 });
    for (let i = 0; i < 20; i++) integration.sink.update(nodeState(`g${i}`, i % 3 === 0 ? 'fail' : 'pass'));
    await integration.idle();
    emu.reset();
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(nodePatches(emu)).toEqual([]);
    expect(emu.requestsBy('GET', /^\/api\/v1\/nodes\/g/)).toEqual([]);
  });
});
