import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { makeNode, startK8sEmulator } from '../../../testing/k8s-emulator/index.js';

const smp = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

describe('scale', () => {
  // Time on a shared machine is not asserted here (bench/ measures speed); the behaviour at size is.
  it('holds 5,000 nodes: one list returns them all and 300 patches each write once', {
    timeout: 120_000,
  }, async () => {
    const big = await startK8sEmulator();
    try {
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
    } finally {
      await big.close();
    }
  });
});
