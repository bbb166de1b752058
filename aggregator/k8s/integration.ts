// Re-exports the Kubernetes integration for aggregator-command.ts, which imports it from this path. The
// integration itself lives in aggregator/kubernetes-integration.ts: it joins k8s/, reconcile/ and the store,
// which this leaf folder must not import.
export {
  createKubernetesIntegration,
  type KubernetesIntegrationHandle,
  type KubernetesIntegrationOptions,
} from '../kubernetes-integration.js';
