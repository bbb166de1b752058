import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { makeNode, startK8sEmulator } from '../../../testing/k8s-emulator/index.js';

const smp = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

describe('scale', () => {
  it('holds 5,000 nodes: list and 300 patches stay fast', async () => {
    const big = await startK8sEmulator();
    try {
      const t0 = performance.now();
      for (let i = 0; i < 5_000; i++) big.nodes.put(makeNode(`node-${String(i).padStart(5, '0')}`));
      const api = big.kubeConfig().makeApiClient(CoreV1Api);
      const list = await api.listNode();
      expect(list.items).toHaveLength(5_000);
      const patch = big.kubeConfig().makeApiClient(CoreV1Api);
      for (let i = 0; i < 300; i++) {
        await patch.patchNode(
          { name: `node-${String(i).padStart(5, '0')}`, body: { metadata: { labels: { v: String(i) } } } },
          smp,
        );
      }
      expect(big.writes()).toBe(300);
      expect(performance.now() - t0).toBeLessThan(10_000);
    } finally {
      await big.close();
    }
  });
});
