// Emulator + real client-node integration fixture for the reconcile tests.
import { Registry } from 'prom-client';
import { makeNames } from '../../../aggregator/k8s/names.js';
import {
  createKubernetesIntegration,
  type KubernetesIntegrationOptions,
} from '../../../aggregator/kubernetes-integration.js';
import type { JsonObject } from '../../../testing/k8s-emulator/index.js';
import {
  type K8sEmulator,
  type K8sEmulatorOptions,
  startK8sEmulator,
} from '../../../testing/k8s-emulator/index.js';

export const names = makeNames();

export interface LogLine {
  level: string;
  obj: object;
  msg: string | undefined;
}

export function memoryLogger(lines: LogLine[] = []) {
  const at = (level: string) => (obj: object, msg?: string) => {
    lines.push({ level, obj, msg });
  };
  return { lines, logger: { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') } };
}

export async function startEmulator(
  nodes: JsonObject[],
  options: K8sEmulatorOptions = {},
): Promise<K8sEmulator> {
  const emu = await startK8sEmulator(options);
  emu.nodes.putMany(nodes);
  return emu;
}

export async function startIntegration(
  emu: K8sEmulator,
  options: Partial<KubernetesIntegrationOptions> = {},
) {
  const registry = new Registry();
  const { lines, logger } = memoryLogger();
  const integration = createKubernetesIntegration({
    kubeConfig: emu.kubeConfig(),
    names,
    registry,
    logger,
    heartbeatThrottleMs: 300_000,
    watchdogMs: 60_000,
    backoffBaseMs: 20,
    ...options,
  });
  await integration.start();
  return { integration, registry, lines };
}

/** Poll for an asynchronous effect over HTTP; bounded. */
export async function waitFor(predicate: () => boolean, timeoutMs = 4000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function labels(emu: K8sEmulator, node: string): Record<string, string> {
  const meta = emu.nodes.get(node)?.['metadata'] as { labels?: Record<string, string> } | undefined;
  return meta?.labels ?? {};
}

export function annotations(emu: K8sEmulator, node: string): Record<string, string> {
  const meta = emu.nodes.get(node)?.['metadata'] as { annotations?: Record<string, string> } | undefined;
  return meta?.annotations ?? {};
}

export interface TaintLike {
  key: string;
  value?: string;
  effect: string;
}

export function taints(emu: K8sEmulator, node: string): TaintLike[] {
  const spec = emu.nodes.get(node)?.['spec'] as { taints?: TaintLike[] } | undefined;
  return spec?.taints ?? [];
}

export interface ConditionLike {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
}

export function conditions(emu: K8sEmulator, node: string): ConditionLike[] {
  const status = emu.nodes.get(node)?.['status'] as { conditions?: ConditionLike[] } | undefined;
  return status?.conditions ?? [];
}

export function ourCondition(emu: K8sEmulator, node: string): ConditionLike | undefined {
  return conditions(emu, node).find((c) => c.type === names.conditionType);
}

export function nodePatches(emu: K8sEmulator, node?: string) {
  return emu.requestsBy(
    'PATCH',
    node ? new RegExp(`^/api/v1/nodes/${node}(/status)?$`) : /^\/api\/v1\/nodes\//,
  );
}

export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}) {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const data = await metric.get();
  return data.values
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((sum, v) => sum + v.value, 0);
}
