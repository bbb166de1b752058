import { describe, expect, it } from 'vitest';
import { StringInterner, slimNode } from '../../../aggregator/k8s/node-view.js';
import { makeNode } from '../../../testing/k8s-emulator/index.js';

describe('slimNode (what the informer caches per Node)', () => {
  it('keeps what the reconciler and the cluster checks read and drops the rest of a real-sized Node', () => {
    const node = makeNode('gpu-1', {
      labels: { 'node-type': 'gpu' },
      taints: [{ key: 'other.example.com/x', value: 'y', effect: 'NoSchedule' }],
      containerRuntimeVersion: 'containerd://1.7.27',
    }) as Record<string, unknown> & { status: Record<string, unknown>; metadata: Record<string, unknown> };
    node.metadata.annotations = { 'validator.osmo.nvidia.com/managed-labels': '["a"]' };
    node.metadata.uid = 'uid-1';
    node.metadata.resourceVersion = '42';
    node.status.images = Array.from({ length: 50 }, (_, i) => ({
      names: [`nvcr.io/nvidia/image-${i}@sha256:${'0'.repeat(64)}`],
      sizeBytes: 1_000_000 * i,
    }));
    const slim = slimNode(node);
    expect(slim).toEqual({
      metadata: {
        name: 'gpu-1',
        uid: 'uid-1',
        resourceVersion: '42',
        labels: { ...(node.metadata.labels as Record<string, string>), 'node-type': 'gpu' },
        annotations: { 'validator.osmo.nvidia.com/managed-labels': '["a"]' },
      },
      spec: { taints: [{ key: 'other.example.com/x', value: 'y', effect: 'NoSchedule' }] },
      status: {
        conditions: (node.status as { conditions: unknown }).conditions,
        nodeInfo: { containerRuntimeVersion: 'containerd://1.7.27' },
        addresses: [
          { type: 'InternalIP', address: '10.0.0.1' },
          { type: 'Hostname', address: 'gpu-1' },
        ],
      },
    });
    expect(JSON.stringify(slim).length).toBeLessThan(JSON.stringify(node).length / 4);
  });

  it('a bare Node stays bare (no invented fields)', () => {
    expect(slimNode({ metadata: { name: 'n' } })).toEqual({ metadata: { name: 'n' } });
  });

  it("with a condition type keeps only that condition (nothing reads the kubelet's)", () => {
    const ours = { type: 'osmo.nvidia.com/BaselineNotMet', status: 'False' as const, reason: 'BaselineMet' };
    const node = makeNode('n1', { conditions: [ours] });
    const all = slimNode(node);
    expect(all.status?.conditions?.length).toBeGreaterThan(1);
    const slim = slimNode(node, { conditionType: ours.type });
    expect(slim.status?.conditions).toEqual([expect.objectContaining(ours)]);
    // A node without our condition keeps none (and the rest of its status).
    const other = slimNode(makeNode('n2'), { conditionType: ours.type });
    expect(other.status?.conditions).toBeUndefined();
    expect(other.status?.nodeInfo?.containerRuntimeVersion).toBe('containerd://1.7.27');
  });

  it('with an interner gives equal nodes equal copies and leaves the source alone', () => {
    const interner = new StringInterner();
    const a = makeNode('a', { labels: { 'node-type': 'gpu' } });
    const before = JSON.stringify(a);
    const slimA = slimNode(a, { interner });
    const slimB = slimNode(makeNode('b', { labels: { 'node-type': 'gpu' } }), { interner });
    expect(JSON.stringify(a)).toBe(before);
    expect(slimA).toEqual(slimNode(a));
    expect(slimB.metadata?.labels?.['node-type']).toBe('gpu');
    expect(slimB.metadata?.labels?.['kubernetes.io/hostname']).toBe('b');
    expect(interner.size).toBeGreaterThan(0);
  });
});

describe('StringInterner', () => {
  it('returns equal strings, passes other values through, skips long strings', () => {
    const interner = new StringInterner(10, 8);
    expect(interner.intern('amd64')).toBe('amd64');
    expect(interner.intern(42)).toBe(42);
    expect(interner.intern(null)).toBe(null);
    expect(interner.intern('a-long-string')).toBe('a-long-string');
    expect(interner.size).toBe(1);
  });

  it('is bounded: past its size it starts over', () => {
    const interner = new StringInterner(100);
    for (let i = 0; i < 1000; i++) expect(interner.intern(`v${i}`)).toBe(`v${i}`);
    expect(interner.size).toBeLessThanOrEqual(100);
  });
});
