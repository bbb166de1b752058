import { describe, expect, it } from 'vitest';
import { slimNode } from '../../../aggregator/k8s/node-view.js';
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
});
