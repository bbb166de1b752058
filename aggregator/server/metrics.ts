// Prometheus metrics on the aggregator's own Registry (never the global one, so tests and several app
// instances in one process do not collide). Node gauges are computed from the store at scrape time.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { NodeStore } from '../store.js';

export const REJECT_REASONS = [
  'auth',
  'forbidden',
  'schema',
  'too-large',
  'content-type',
  'malformed',
  'unavailable',
  'other',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface AggregatorMetrics {
  registry: Registry;
  reportsAccepted: Counter;
  reportsRejected: Counter<'reason'>;
  evaluationSeconds: Histogram;
  httpRequestSeconds: Histogram<'route' | 'method' | 'status'>;
  /** Spec reloads that put a changed, valid spec in force (aggregator/spec-watcher.ts). */
  specReloads: Counter;
  /** Changed spec files that could not be used (invalid or unreadable); the last good spec stays. */
  specReloadErrors: Counter;
  /** 1 while the spec file last read is valid (or the built-in spec is used), 0 while it is not. */
  specValid: Gauge;
}

export function createMetrics(
  store: NodeStore,
  options: { defaultMetrics?: boolean; registry?: Registry } = {},
): AggregatorMetrics {
  // The command shares one Registry with the Kubernetes integration's metrics.
  const registry = options.registry ?? new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  // Registration order is the order of the exposition.
  const reports = reportCounters(registry);
  registerNodeGauges(registry, store);
  return { registry, ...reports, ...latencyHistograms(registry), ...specMetrics(registry) };
}

function reportCounters(registry: Registry) {
  const reportsAccepted = new Counter({
    name: 'osmo_validator_reports_accepted_total',
    help: 'Reports accepted and evaluated.',
    registers: [registry],
  });
  const reportsRejected = new Counter({
    name: 'osmo_validator_reports_rejected_total',
    help: 'Reports rejected, by reason.',
    labelNames: ['reason'],
    registers: [registry],
  });
  // Every reason exists from the start, so a dashboard's rate() has a series before the first rejection.
  for (const reason of REJECT_REASONS) reportsRejected.inc({ reason }, 0);
  return { reportsAccepted, reportsRejected };
}

/** Gauges computed from the store at scrape time. */
function registerNodeGauges(registry: Registry, store: NodeStore): void {
  new Gauge({
    name: 'osmo_validator_nodes',
    help: 'Known nodes by role and verdict (verdict "unknown" = stale).',
    labelNames: ['role', 'verdict'],
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, { role: string; verdict: string; n: number }>();
      for (const n of [...store.list(), ...store.unreportedStale()]) {
        const key = `${n.role}\u0000${n.verdict}`;
        const c = counts.get(key) ?? { role: n.role, verdict: n.verdict, n: 0 };
        c.n++;
        counts.set(key, c);
      }
      for (const c of counts.values()) this.set({ role: c.role, verdict: c.verdict }, c.n);
    },
  });
  new Gauge({
    name: 'osmo_validator_stale_nodes',
    help: 'Nodes not heard from within --stale-after.',
    registers: [registry],
    collect() {
      let stale = 0;
      for (const n of store.list()) if (n.stale) stale++;
      this.set(stale + store.unreportedStale().length);
    },
  });
}

function latencyHistograms(registry: Registry) {
  const evaluationSeconds = new Histogram({
    name: 'osmo_validator_evaluation_duration_seconds',
    help: 'Time to evaluate one report against the spec.',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [registry],
  });
  const httpRequestSeconds = new Histogram({
    name: 'osmo_validator_http_request_duration_seconds',
    help: 'HTTP request latency by route and status.',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return { evaluationSeconds, httpRequestSeconds };
}

function specMetrics(registry: Registry) {
  const specReloads = new Counter({
    name: 'osmo_validator_spec_reloads_total',
    help: 'Changed, valid spec files put in force without a restart.',
    registers: [registry],
  });
  const specReloadErrors = new Counter({
    name: 'osmo_validator_spec_reload_errors_total',
    help: 'Changed spec files that were invalid or unreadable (the last good spec stayed in force).',
    registers: [registry],
  });
  const specValid = new Gauge({
    name: 'osmo_validator_spec_valid',
    help: '1 when the spec file as last read is valid and in force, 0 when it is invalid or unreadable.',
    registers: [registry],
  });
  specValid.set(1);
  return { specReloads, specReloadErrors, specValid };
}
