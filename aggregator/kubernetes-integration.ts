// Builds the KubernetesIntegration the aggregator command wires in: the Node informer (ClusterView), the
// reconciler behind the ReconcileSink, the log of changes (dry-run: plans), the cluster checks and
// readiness. The one module that joins the Kubernetes client side (k8s/), the writer (reconcile/), the
// store's view of managed nodes and the cluster checks (spec/).
import type { KubeConfig } from '@kubernetes/client-node';
import { Gauge, type Registry } from 'prom-client';
import type { CheckResult, Role } from '../report/schema.js';
import { type ClusterNode, clusterCheckResults } from '../spec/cluster-checks.js';
import { resolveRole, roleFromOwnLabel } from '../spec/role.js';
import type { ClusterRules } from '../spec/spec-types.js';
import type {
  ClusterView,
  KubernetesIntegration,
  NodeState,
  StructuredLogger,
  WrittenNodeState,
} from './contracts.js';
import { NodeInformer } from './k8s/informer.js';
import { makeKubeApi } from './k8s/kube-api.js';
import type { Names } from './k8s/names.js';
import { conditionOf, type NodeView, timeMs } from './k8s/node-view.js';
import { TokenBucket } from './k8s/rate-limit.js';
import { cachedStorageClasses } from './k8s/storage-classes.js';
import { DEFAULT_TAINT_ROLES, type TaintEffect } from './reconcile/desired.js';
import { foreignKeys } from './reconcile/diff.js';
import { makeReconcileMetrics, type ReconcileMetrics } from './reconcile/metrics.js';
import { Reconciler } from './reconcile/reconciler.js';
import type { ClusterNodeRef, ManagedNode } from './store.js';

export interface KubernetesIntegrationOptions {
  kubeConfig: KubeConfig;
  names: Names;
  registry: Registry;
  logger: StructuredLogger;
  dryRun?: boolean;
  /** Roles whose failing nodes are tainted (default compute, gpu, jetson). */
  taintRoles?: readonly Role[];
  /** NoSchedule unless configured; NoExecute only when asked for explicitly. */
  taintEffect?: TaintEffect;
  /** Circuit breaker: at most this share of a role's nodes tainted by us (default 25). */
  maxTaintedPercent?: number;
  /** Mass-change guard: share of a role that may newly turn True/Unknown within the window (default 30). */
  guardMaxPercent?: number;
  /** The guard's window (default 10 min). */
  guardWindowMs?: number;
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
  /** Cap of the per-node backoff; failed writes are retried for ever (default 60 s). */
  backoffCapMs?: number;
  /** Period of the resync of every known node against the informer's copy (default 5 min; 0 off). */
  resyncMs?: number;
  /**
   * The thresholds of the cluster checks: the `cluster:` section of the spec in force, read on every
   * summary (a reloaded spec applies at once). Default: the built-in baseline's numbers.
   */
  clusterRules?: () => ClusterRules;
  /** Clock for condition and event times (tests). */
  now?: () => number;
}

export interface KubernetesIntegrationHandle extends KubernetesIntegration {
  /** For tests and shutdown: resolves when no reconcile is pending or running. */
  idle(timeoutMs?: number): Promise<void>;
  informer: NodeInformer;
  /** Nodes carrying our managed-labels annotation, with our role label and condition heartbeat. */
  managedNodes(): ManagedNode[];
  /** Every node of the cluster, its role from its labels (compute when nothing names one). */
  clusterNodes(): ClusterNodeRef[];
  /** Where the resync reads each node's current state (the store: staleness as a level, not an edge). */
  setStateSource(source: (node: string) => NodeState | undefined): void;
}

/**
 * The nodes we manage as the informer's cache shows them (for staleness after a restart). Such a node has
 * not reported to this process, so its role is the one we last wrote: our own role label.
 */
export function managedNodesOf(nodes: readonly NodeView[], names: Names): ManagedNode[] {
  const out: ManagedNode[] = [];
  for (const node of nodes) {
    const name = node.metadata?.name;
    if (!name || node.metadata?.annotations?.[names.annotations.managedLabels] === undefined) continue;
    const role = roleFromOwnLabel(node.metadata?.labels, names.labels.role);
    const lastHeartbeatMs = timeMs(conditionOf(node, names.conditionType)?.lastHeartbeatTime);
    out.push({ name, role, lastHeartbeatMs });
  }
  return out;
}

/** Our taint and condition on a cached node, copied to plain fields (the API serves them). */
export function writtenStateOf(node: NodeView, names: Names): WrittenNodeState {
  const t = node.spec?.taints?.find((x) => x.key === names.taintKey);
  const c = conditionOf(node, names.conditionType);
  return {
    taint: t ? { key: t.key, ...(t.value !== undefined && { value: t.value }), effect: t.effect } : null,
    condition: c
      ? {
          type: c.type,
          status: c.status,
          ...(c.reason !== undefined && { reason: c.reason }),
          ...(c.message !== undefined && { message: c.message }),
        }
      : null,
  };
}

/** Every node of the cluster with the role its labels name (compute when none does). */
export function clusterNodeRefsOf(nodes: readonly NodeView[], names: Names): ClusterNodeRef[] {
  const out: ClusterNodeRef[] = [];
  for (const node of nodes) {
    const name = node.metadata?.name;
    if (!name) continue;
    const decided = resolveRole({ labels: node.metadata?.labels ?? {}, ownRoleLabel: names.labels.role });
    out.push({ name, role: decided?.role ?? 'compute' });
  }
  return out;
}

/** The cluster's nodes as the cluster checks read them. */
function clusterNodesOf(nodes: readonly NodeView[]): ClusterNode[] {
  const out: ClusterNode[] = [];
  for (const node of nodes) {
    const name = node.metadata?.name;
    if (!name) continue;
    const runtimeVersion = node.status?.nodeInfo?.containerRuntimeVersion;
    const internalIPs = (node.status?.addresses ?? [])
      .filter((a) => a.type === 'InternalIP')
      .map((a) => a.address);
    out.push({ name, labels: node.metadata?.labels ?? {}, runtimeVersion, internalIPs });
  }
  return out;
}

function makeReconciler(
  options: KubernetesIntegrationOptions,
  informer: NodeInformer,
  metrics: ReconcileMetrics,
): Reconciler {
  return new Reconciler({
    api: makeKubeApi(options.kubeConfig, options.names),
    cache: informer,
    names: options.names,
    desired: {
      taintRoles: options.taintRoles ?? DEFAULT_TAINT_ROLES,
      taintEffect: options.taintEffect ?? 'NoSchedule',
    },
    dryRun: options.dryRun ?? false,
    maxTaintedPercent: options.maxTaintedPercent ?? 25,
    guardMaxPercent: options.guardMaxPercent ?? 30,
    guardWindowMs: options.guardWindowMs ?? 600_000,
    heartbeatThrottleMs: options.heartbeatThrottleMs ?? 300_000,
    eventNamespace: options.eventNamespace ?? 'default',
    concurrency: options.concurrency ?? 8,
    limiter: new TokenBucket(options.qps ?? 20, options.burst ?? 50),
    metrics,
    logger: options.logger,
    backoffBaseMs: options.backoffBaseMs ?? 1000,
    ...(options.backoffCapMs !== undefined ? { backoffCapMs: options.backoffCapMs } : {}),
    resyncMs: options.resyncMs ?? 300_000,
    ...(options.now ? { now: options.now } : {}),
  });
}

/** osmo_validator_foreign_objects{kind}: labels and taints with our keys we did not write, counted at scrape. */
function registerForeignObjects(registry: Registry, nodes: () => NodeView[], names: Names): void {
  const name = 'osmo_validator_foreign_objects';
  if (registry.getSingleMetric(name)) registry.removeSingleMetric(name);
  new Gauge({
    name,
    help: "Labels and taints with the validator's keys that its ownership annotations do not record (left alone)",
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      let labels = 0;
      let taints = 0;
      for (const node of nodes()) {
        const f = foreignKeys(node, names);
        labels += f.labels.length;
        taints += f.taints.length;
      }
      this.set({ kind: 'label' }, labels);
      this.set({ kind: 'taint' }, taints);
    },
  });
}

export function createKubernetesIntegration(
  options: KubernetesIntegrationOptions,
): KubernetesIntegrationHandle {
  const { kubeConfig, names, logger } = options;
  const maxTaintedPercent = options.maxTaintedPercent ?? 25;
  if (!(maxTaintedPercent >= 0 && maxTaintedPercent <= 100)) {
    throw new Error(`--max-tainted-percent must be between 0 and 100, got ${maxTaintedPercent}`);
  }
  const metrics = makeReconcileMetrics(options.registry);
  registerForeignObjects(options.registry, () => informer.all(), names);
  const dryRun = options.dryRun ?? false;
  let reconciler: Reconciler | undefined;
  const informer = new NodeInformer({
    kubeConfig,
    watchdogMs: options.watchdogMs ?? 300_000,
    logger,
    conditionType: options.names.conditionType,
    onDelete: (name) => reconciler?.forget(name),
    onChange: (name) => reconciler?.nodeChanged(name),
    onRestart: (reason) => metrics.watchRestarts.inc({ reason }),
  });
  reconciler = makeReconciler(options, informer, metrics);
  const rec = reconciler;
  const storageClasses = cachedStorageClasses(kubeConfig, options.now);
  const cluster: ClusterView = informer;
  let started = false;

  return {
    informer,
    cluster,
    managedNodes: () => managedNodesOf(informer.all(), names),
    clusterNodes: () => clusterNodeRefsOf(informer.all(), names),
    setStateSource: (source) => rec.setStateSource(source),
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
    guard: () => ({
      maxPercent: options.guardMaxPercent ?? 30,
      windowMs: options.guardWindowMs ?? 600_000,
      acceptAnnotation: names.annotations.acceptTransition,
      held: rec.held(),
    }),
    nodeStatus: (node: string) => ({
      held: rec.held(node)[0] ?? null,
      foreign: foreignKeys(informer.get(node), names),
    }),
    written(node: string) {
      const cached = informer.get(node);
      return cached ? writtenStateOf(cached, names) : undefined;
    },
    async clusterChecks(states: NodeState[]): Promise<CheckResult[]> {
      const list = await storageClasses();
      return clusterCheckResults({
        reports: states.map((s) => ({ node: s.node, role: s.role, facts: s.result?.facts ?? null })),
        nodes: clusterNodesOf(informer.all()),
        ...list,
        rules: options.clusterRules?.(),
      });
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
      rec.startResync();
    },
    async stop() {
      rec.stop();
      await informer.stop();
    },
    idle: (timeoutMs?: number) => rec.idle(timeoutMs),
  };
}
