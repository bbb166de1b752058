// The Node informer's LIST at scale: pages (limit + continue) slimmed one at a time, so thousands of
// realistic ~15 KB Nodes never sit in memory as typed objects at once; and an expired continue token
// (410) restarts the list instead of failing it.
import type { V1Node, V1NodeList } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeInformer } from '../../../aggregator/k8s/informer.js';
import { listNodesInPages, NODE_PAGE_SIZE, type NodeLister } from '../../../aggregator/k8s/node-pages.js';
import { makeNode } from '../../../testing/k8s-emulator/index.js';
import { memoryLogger, startEmulator, waitFor } from '../reconcile/k8s-setup.js';

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('node informer list', () => {
  it('syncs 2,000 realistic nodes in pages and keeps only slim copies', async () => {
    const nodes = Array.from({ length: 2000 }, (_, i) =>
      makeNode(`node-${String(i).padStart(4, '0')}`, { images: 50 }),
    );
    expect(JSON.stringify(nodes[0]).length).toBeGreaterThan(12_000);
    const emu = await startEmulator(nodes);
    cleanup.push(() => emu.close());
    const { logger } = memoryLogger();
    const informer = new NodeInformer({ kubeConfig: emu.kubeConfig(), watchdogMs: 60_000, logger });
    cleanup.push(() => informer.stop());
    await informer.start();

    expect(informer.synced()).toBe(true);
    expect(informer.nodeNames()).toHaveLength(2000);
    const lists = emu.requestsBy('GET', '/api/v1/nodes').filter((r) => r.query['watch'] !== 'true');
    expect(lists).toHaveLength(Math.ceil(2000 / NODE_PAGE_SIZE));
    expect(lists.every((r) => r.query['limit'] === String(NODE_PAGE_SIZE))).toBe(true);
    expect(lists.filter((r) => r.query['continue'] !== undefined)).toHaveLength(lists.length - 1);
    // Slim: no images, managedFields, capacity... only what the reconciler reads.
    for (const view of informer.all()) {
      const raw = view as { metadata?: object; status?: object };
      expect(raw.metadata).not.toHaveProperty('managedFields');
      expect(raw.status).not.toHaveProperty('images');
      expect(raw.status).not.toHaveProperty('capacity');
    }
    expect(informer.runtimeVersionOf('node-1999')).toBe('containerd://1.7.27');
    // The watch starts from the list's resourceVersion.
    const watchOf = () => emu.requestsBy('GET', '/api/v1/nodes').find((r) => r.query['watch'] === 'true');
    await waitFor(() => watchOf() !== undefined, 2000, 'the watch');
    const watch = watchOf();
    expect(watch?.query['resourceVersion']).toBe(emu.resourceVersion);
  });
});

describe('node informer cache', () => {
  it('with a condition type caches only that condition of each Node, from the list and from the watch', async () => {
    const type = 'osmo.nvidia.com/BaselineNotMet';
    const ours = { type, status: 'True' as const, reason: 'BaselineNotMet', message: 'gpu.driver' };
    const emu = await startEmulator([makeNode('n1', { conditions: [ours] }), makeNode('n2')]);
    cleanup.push(() => emu.close());
    const { logger } = memoryLogger();
    const informer = new NodeInformer({
      kubeConfig: emu.kubeConfig(),
      watchdogMs: 60_000,
      logger,
      conditionType: type,
    });
    cleanup.push(() => informer.stop());
    await informer.start();
    expect(informer.get('n1')?.status?.conditions).toEqual([expect.objectContaining(ours)]);
    expect(informer.get('n2')?.status?.conditions).toBeUndefined();
    await waitFor(() => emu.openWatches() > 0, 2000, 'the watch');
    emu.nodes.mutate('n2', (obj) => {
      const status = obj['status'] as { conditions: unknown[] };
      status.conditions.push({ ...ours, status: 'False', reason: 'BaselineMet' });
    });
    await waitFor(() => informer.get('n2')?.status?.conditions !== undefined, 2000, 'the watch event');
    expect(informer.get('n2')?.status?.conditions).toEqual([
      expect.objectContaining({ type, status: 'False' }),
    ]);
  });
});

describe('listNodesInPages', () => {
  const node = (name: string): V1Node => ({ metadata: { name } });
  const page = (items: string[], next?: string, rv = '7'): V1NodeList => ({
    items: items.map(node),
    metadata: { resourceVersion: rv, ...(next ? { _continue: next } : {}) },
  });

  it('restarts the list when a continue token expired (410), dropping the earlier pages', async () => {
    const asked: Array<string | undefined> = [];
    let expired = false;
    const core: NodeLister = {
      listNode: async (params?: { _continue?: string }) => {
        asked.push(params?._continue);
        if (params?._continue === 'p2' && !expired) {
          expired = true;
          throw Object.assign(new Error('Gone: continue token expired'), { code: 410 });
        }
        if (params?._continue === 'p2') return page(['c'], undefined, '9');
        return page(['a', 'b'], 'p2', '9');
      },
    } as NodeLister;
    let seen: string[] = [];
    let restarts = 0;
    const result = await listNodesInPages(
      core,
      (items) => {
        seen.push(...items.map((n) => n.metadata?.name ?? ''));
        return true;
      },
      {
        onRestart: () => {
          restarts++;
          seen = [];
        },
      },
    );
    expect(asked).toEqual([undefined, 'p2', undefined, 'p2']);
    expect(restarts).toBe(1);
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(result).toEqual({ resourceVersion: '9', complete: true });
  });

  it('a 410 on the first page, or any other error, is thrown', async () => {
    const gone: NodeLister = {
      listNode: async () => {
        throw Object.assign(new Error('Gone'), { code: 410 });
      },
    } as NodeLister;
    await expect(listNodesInPages(gone, () => true)).rejects.toThrow('Gone');
    const failing: NodeLister = {
      listNode: async (params?: { _continue?: string }) => {
        if (params?._continue) throw Object.assign(new Error('Forbidden'), { code: 403 });
        return page(['a'], 'p2');
      },
    } as NodeLister;
    await expect(listNodesInPages(failing, () => true)).rejects.toThrow('Forbidden');
  });

  it('stops when the caller returns false', async () => {
    let calls = 0;
    const core: NodeLister = {
      listNode: async () => {
        calls++;
        return page(['a'], 'more');
      },
    } as NodeLister;
    const result = await listNodesInPages(core, () => false);
    expect(result.complete).toBe(false);
    expect(calls).toBe(1);
  });
});
