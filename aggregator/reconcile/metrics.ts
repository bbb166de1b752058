// Reconciler metrics, registered on the registry the aggregator serves at /metrics.
import { Counter, Gauge, type Registry } from 'prom-client';

export interface ReconcileMetrics {
  writes: Counter<'kind'>;
  failures: Counter<'kind'>;
  conflicts: Counter;
  breakerSkipped: Counter<'role'>;
  queueDepth: Gauge;
  watchRestarts: Counter<'reason'>;
  resyncRepairs: Counter;
  guardHeld: Gauge<'role'>;
}

export function makeReconcileMetrics(registry: Registry): ReconcileMetrics {
  const reuse = <T>(name: string, make: () => T): T =>
    (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    writes: reuse(
      'osmo_validator_k8s_writes_total',
      () =>
        new Counter({
          name: 'osmo_validator_k8s_writes_total',
          help: 'Kubernetes writes by kind (node-patch, status-patch, event)',
          labelNames: ['kind'],
          registers: [registry],
        }),
    ),
    failures: reuse(
      'osmo_validator_k8s_write_failures_total',
      () =>
        new Counter({
          name: 'osmo_validator_k8s_write_failures_total',
          help: 'Failed Kubernetes writes by kind',
          labelNames: ['kind'],
          registers: [registry],
        }),
    ),
    conflicts: reuse(
      'osmo_validator_k8s_conflicts_total',
      () =>
        new Counter({
          name: 'osmo_validator_k8s_conflicts_total',
          help: 'Node patches rejected with 409 Conflict (re-read and retried)',
          registers: [registry],
        }),
    ),
    breakerSkipped: reuse(
      'osmo_validator_taints_skipped_by_breaker_total',
      () =>
        new Counter({
          name: 'osmo_validator_taints_skipped_by_breaker_total',
          help: 'New taints not applied because the circuit breaker (--max-tainted-percent) was open',
          labelNames: ['role'],
          registers: [registry],
        }),
    ),
    queueDepth: reuse(
      'osmo_validator_reconcile_queue_depth',
      () =>
        new Gauge({
          name: 'osmo_validator_reconcile_queue_depth',
          help: 'Nodes with a reconcile pending or running',
          registers: [registry],
        }),
    ),
    guardHeld: reuse(
      'osmo_validator_guard_held_nodes',
      () =>
        new Gauge({
          name: 'osmo_validator_guard_held_nodes',
          help: 'Nodes whose transition to BaselineNotMet=True/Unknown the mass-change guard holds, by role',
          labelNames: ['role'],
          registers: [registry],
        }),
    ),
    resyncRepairs: reuse(
      'osmo_validator_resync_repairs_total',
      () =>
        new Counter({
          name: 'osmo_validator_resync_repairs_total',
          help: "Nodes the periodic resync found different from their desired state and queued (lost writes, others' edits, missed staleness)",
          registers: [registry],
        }),
    ),
    watchRestarts: reuse(
      'osmo_validator_node_watch_restarts_total',
      () =>
        new Counter({
          name: 'osmo_validator_node_watch_restarts_total',
          help: 'Node watch restarts by reason (error, closed, watchdog)',
          labelNames: ['reason'],
          registers: [registry],
        }),
    ),
  };
}
