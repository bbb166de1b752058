// The Kubernetes calls the reconciler makes, and their client-node implementation: a JSON merge patch of
// the Node, a strategic merge patch of nodes/status (conditions merge by type, so the kubelet's survive),
// a GET of one Node and the creation of an Event. Every write names our field manager.
import { CoreV1Api, type KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { EventBody } from './events.js';
import type { Names } from './names.js';
import type { NodeView } from './node-view.js';

export interface KubeApi {
  /** JSON merge patch of the Node object (labels, annotations, taints, resourceVersion). */
  patchNode(name: string, body: unknown): Promise<NodeView>;
  /** Strategic merge patch of nodes/status: conditions merge by type, so the kubelet's survive. */
  patchNodeStatus(name: string, body: unknown): Promise<NodeView>;
  readNode(name: string): Promise<NodeView>;
  createEvent(namespace: string, body: EventBody): Promise<void>;
}

export function makeKubeApi(kubeConfig: KubeConfig, names: Names): KubeApi {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const strategic = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
  return {
    patchNode: async (name, body) =>
      (await core.patchNode({ name, body, fieldManager: names.component }, merge)) as NodeView,
    patchNodeStatus: async (name, body) =>
      (await core.patchNodeStatus({ name, body, fieldManager: names.component }, strategic)) as NodeView,
    readNode: async (name) => (await core.readNode({ name })) as NodeView,
    createEvent: async (namespace, body) => {
      await core.createNamespacedEvent({ namespace, body: body as never });
    },
  };
}
