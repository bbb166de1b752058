// Builds the KubernetesIntegration the aggregator command wires in: the Node informer (ClusterView), the
// reconciler behind the ReconcileSink, dry-run's change log, the cluster checks and readiness.
import {
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  StorageV1Api,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { isRole } from '../../report/constants.js';
import { errorMessage } from '../../report/error-message.js';
import type { Role } from '../../report/schema.js';
import type { KubernetesIntegration, NodeState } from '../contracts.js';
import { clusterCheckResults, type StorageClassView } from '../reconcile/cluster-checks.js';
import { DEFAULT_TAINT_ROLES, type TaintEffect } from '../reconcile/desired.js';
import { makeReconcileMetrics } from '../reconcile/metrics.js';
import { conditionOf, type NodeView, timeMs } from '../reconcile/node-view.js';
import { type KubeApi, type ReconcileLogger, Reconciler } from '../reconcile/reconciler.js';
import type { ManagedNode } from '../store.js';
import { NodeInformer } from './informer.js';
import type { Names } from './names.js';
import { TokenBucket } from './rate-limit.js';

export interface KubernetesIntegrationOptions {
  kubeConfig: KubeConfig;
  names: Names;
  registry: Registry;
  logger: ReconcileLogger;
  dryRun?: boolean;
  /** Roles whose failing nodes are tainted (default compute, gpu, jetson). */
  taintRoles?: readonly Role[];
  /** NoSchedule unless configured; NoExecute only when asked for explicitly. */
  taintEffect?: TaintEffect;
  /** Circuit breaker: at most this share of a role's nodes tainted by us (default 25). */
  maxTaintedPercent?: number;
  qps?: number;
  burst?: number;
  /** Concurrent node reconciles (default 8). */
  concurrency?: number;
  /** Minimum interval between condition heartbeats of an unchanged node (default 5 min). */
  heartbeatThrottleMs?: number;
  /** Restart the node watch when nothing arrived for this long (default 5 min). */
  watchdogMs?: number;
  /** Namespace of the Events (default `default`). */
  eventNamespace?: string;
  /** Base of the per-node exponential backoff (default 1 s). */
  backoffBaseMs?: number;
  /** Clock for condition and event times (tests). */
  now?: () => number;
}

export interface KubernetesIntegrationHandle extends KubernetesIntegration {
  /** For tests and shutdown: resolves when no reconcile is pending or running. */
  idle(timeoutMs?: number): Promise<void>;
  informer: NodeInformer;
  /** Nodes carrying our managed-labels annotation, with our role label and condition heartbeat. */
  managedNodes(): ManagedNode[];
}

/** The nodes we manage as the informer's cache shows them (for staleness after a restart). */
export function managedNodesOf(nodes: readonly NodeView[], names: Names): ManagedNode[] {
  const out: ManagedNode[] = [];
  for (const node of nodes) {
    const name = node.metadata?.name;
    if (!name || node.metadata?.annotations?.[names.annotations.managedLabels] === undefined) continue;
    const label = node.metadata?.labels?.[names.labels.role];
    const role = isRole(label) ? label : undefined;
    const lastHeartbeatMs = timeMs(conditionOf(node, names.conditionType)?.lastHeartbeatTime);
    out.push({ name, role, lastHeartbeatMs });
  }
  return out;
}

function clientApi(kubeConfig: KubeConfig, names: Names): KubeApi {
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

/** How long the cluster-check inputs (the StorageClass list) are reused; a failed list, this long. */
export const CLUSTER_INPUT_TTL_MS = 60_000;
export const CLUSTER_INPUT_ERROR_TTL_MS = 5_000;

interface StorageClassInput {
  storageClasses: StorageClassView[] | null;
  storageClassError?: string;
}

async function listStorageClasses(storage: StorageV1Api): Promise<StorageClassInput> {
  try {
    const list = await storage.listStorageClass();
    return {
      storageClasses: list.items.map((sc) => ({
        name: sc.metadata?.name ?? '',
        annotations: sc.metadata?.annotations ?? {},
      })),
    };
  } catch (err) {
    const message = errorMessage(err, { firstLine: true });
    return { storageClasses: null, storageClassError: message };
  }
}

export function createKubernetesIntegration(
  options: KubernetesIntegrationOptions,
): KubernetesIntegrationHandle {
  const { kubeConfig, names, logger } = options;
  const metrics = makeReconcileMetrics(options.registry);
  const dryRun = options.dryRun ?? false;
  const maxTaintedPercent = options.maxTaintedPercent ?? 25;
  if (!(maxTaintedPercent >= 0 && maxTaintedPercent <= 100)) {
    throw new Error(`--max-tainted-percent must be between 0 and 100, got ${maxTaintedPercent}`);
  }
  const taintEffect = options.taintEffect ?? 'NoSchedule';
  let reconciler: Reconciler | undefined;
  const informer = new NodeInformer({
    kubeConfig,
    watchdogMs: options.watchdogMs ?? 300_000,
    logger,
    onDelete: (name) => reconciler?.forget(name),
    onRestart: (reason) => metrics.watchRestarts.inc({ reason }),
  });
  reconciler = new Reconciler({
    api: clientApi(kubeConfig, names),
    cache: informer,
    names,
    desired: { taintRoles: options.taintRoles ?? DEFAULT_TAINT_ROLES, taintEffect },
    dryRun,
    maxTaintedPercent,
    heartbeatThrottleMs: options.heartbeatThrottleMs ?? 300_000,
    eventNamespace: options.eventNamespace ?? 'default',
    concurrency: options.concurrency ?? 8,
    limiter: new TokenBucket(options.qps ?? 20, options.burst ?? 50),
    metrics,
    logger,
    backoffBaseMs: options.backoffBaseMs ?? 1000,
    ...(options.now ? { now: options.now } : {}),
  });
  const storage = kubeConfig.makeApiClient(StorageV1Api);
  const rec = reconciler;
  const clock = options.now ?? Date.now;
  // GET /api/v1/summary may be polled by dashboards: StorageClasses are listed at most once a minute (a
  // failed list is retried sooner), and concurrent summaries share one list.
  let storageCache: { at: number; ttl: number; value: Promise<StorageClassInput> } | undefined;
  const storageClassesCached = (): Promise<StorageClassInput> => {
    const now = clock();
    if (storageCache && now - storageCache.at < storageCache.ttl) return storageCache.value;
    const entry = { at: now, ttl: CLUSTER_INPUT_TTL_MS, value: listStorageClasses(storage) };
    storageCache = entry;
    void entry.value.then((v) => {
      if (v.storageClassError !== undefined) entry.ttl = CLUSTER_INPUT_ERROR_TTL_MS;
    });
    return entry.value;
  };
  let started = false;

  return {
    informer,
    cluster: informer,
    managedNodes: () => managedNodesOf(informer.all(), names),
    sink: {
      update(state: NodeState) {
        try {
          rec.update(state);
        } catch (err) {
          logger.error({ node: state.node, err: String(err) }, 'reconcile update failed');
        }
      },
      forget(node: string) {
        rec.forget(node);
      },
    },
    changes: (node?: string) => rec.changes(node),
    async clusterChecks(states: NodeState[]) {
      const { storageClasses, storageClassError } = await storageClassesCached();
      const input = { states, cluster: informer, storageClasses };
      return clusterCheckResults(storageClassError === undefined ? input : { ...input, storageClassError });
    },
    ready() {
      if (!started) return { ok: false, reason: 'kubernetes integration not started' };
      if (!informer.synced()) {
        return {
          ok: false,
          reason: `node informer not synced${informer.lastError ? `: ${informer.lastError}` : ''}`,
        };
      }
      return { ok: true };
    },
    async start() {
      started = true;
      if (dryRun) logger.info({}, 'dry-run: Kubernetes changes are computed and logged, nothing is written');
      await informer.start();
    },
    async stop() {
      rec.stop();
      await informer.stop();
    },
    idle: (timeoutMs?: number) => rec.idle(timeoutMs),
  };
}
