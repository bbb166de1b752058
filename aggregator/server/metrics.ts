// Prometheus metrics on the aggregator's own Registry (never the global one, so tests and several app
// instances in one process do not collide). Node gauges are computed from the store at scrape time.
import { X509Certificate } from 'node:crypto';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { buildRevision, packageVersion } from '../../report/version.js';
import { failingCheckIds } from '../../spec/failing-checks.js';
import type { NodeStore } from '../store.js';
import { CONNECTION_REFUSAL_REASONS } from './connection-limits.js';

/**
 * prom-client's default gauges that end in `_total`, which the exposition format reserves for counters
 * (`promtool check metrics` flags them). Each is the sum of its per-type gauge without the suffix
 * (`nodejs_active_handles{type}` and so on), which stays.
 */
const MISNAMED_DEFAULT_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export const REJECT_REASONS = [
  'auth',
  'forbidden',
  'schema',
  'too-large',
  'content-type',
  'malformed',
  'unavailable',
  'node-limit',
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
  /** Records the expiry of the serving certificate in use (PEM; the first certificate is the leaf). */
  observeServingCertificate(certPem: string): void;
  /** Connections closed on accept, by reason (server/connection-limits.ts). */
  connectionsRefused: Counter<'reason'>;
  /** Where osmo_validator_connections_open reads the connections held (the server, once built). */
  observeOpenConnections(count: () => number): void;
}

export function createMetrics(
  store: NodeStore,
  options: { defaultMetrics?: boolean; registry?: Registry } = {},
): AggregatorMetrics {
  // The command shares one Registry with the Kubernetes integration's metrics.
  const registry = options.registry ?? new Registry();
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
  }
  // Registration order is the order of the exposition.
  registerBuildInfo(registry);
  const reports = reportCounters(registry);
  registerNodeGauges(registry, store);
  registerCheckGauge(registry, store);
  registerNodeLimit(registry, store);
  return {
    registry,
    ...reports,
    ...latencyHistograms(registry),
    ...specMetrics(registry),
    observeServingCertificate: certificateExpiry(registry),
    ...connectionMetrics(registry),
  };
}

/** Connections held and closed on accept (--max-connections, --max-connections-per-client). */
function connectionMetrics(registry: Registry) {
  let openConnections = () => 0;
  new Gauge({
    name: 'osmo_validator_connections_open',
    help: 'Client connections the aggregator holds now (TLS handshakes in progress included).',
    registers: [registry],
    collect() {
      this.set(openConnections());
    },
  });
  const connectionsRefused = new Counter({
    name: 'osmo_validator_connections_refused_total',
    help: 'Connections closed on accept: over --max-connections, or over --max-connections-per-client from one address.',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of CONNECTION_REFUSAL_REASONS) connectionsRefused.inc({ reason }, 0);
  return {
    connectionsRefused,
    observeOpenConnections(count: () => number) {
      openConnections = count;
    },
  };
}

/** The usual build_info gauge: always 1, the version and git revision as labels. */
function registerBuildInfo(registry: Registry): void {
  new Gauge({
    name: 'osmo_validator_build_info',
    help: 'Always 1; the version and git revision of the running aggregator as labels.',
    labelNames: ['version', 'revision'],
    registers: [registry],
  }).set({ version: packageVersion(), revision: buildRevision() }, 1);
}

/**
 * Failing nodes per check id (fail or error, as the verdict counts them), over the nodes with a current
 * report (stale ones are unknown, not failing). Every check id reported has a series, 0 when no node fails
 * it; the label's values are the spec's check ids, so the series do not grow with the fleet.
 */
function registerCheckGauge(registry: Registry, store: NodeStore): void {
  new Gauge({
    name: 'osmo_validator_check_failing_nodes',
    help: 'Nodes whose latest (non-stale) report fails the check, by check id.',
    labelNames: ['check'],
    registers: [registry],
    collect() {
      this.reset();
      const failing = new Map<string, number>();
      for (const n of store.list()) {
        if (n.stale) continue;
        for (const c of n.result.checks) if (!failing.has(c.id)) failing.set(c.id, 0);
        for (const id of failingCheckIds(n.result.checks)) failing.set(id, (failing.get(id) ?? 0) + 1);
      }
      for (const [check, n] of failing) this.set({ check }, n);
    },
  });
}

/** The serving certificate's notAfter as a Unix timestamp; no series until a certificate is served. */
function certificateExpiry(registry: Registry): (certPem: string) => void {
  const gauge = new Gauge({
    name: 'osmo_validator_tls_certificate_expiry_timestamp_seconds',
    help: "Expiry (notAfter, Unix seconds) of the aggregator's serving certificate in use.",
    registers: [registry],
  });
  return (certPem) => {
    const notAfter = Date.parse(new X509Certificate(certPem).validTo);
    if (Number.isFinite(notAfter)) gauge.set(Math.floor(notAfter / 1000));
  };
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

/** Standalone: the --max-nodes cap, to alert on `osmo_validator_nodes` nearing it; no series with Kubernetes. */
function registerNodeLimit(registry: Registry, store: NodeStore): void {
  if (store.maxNodes === undefined) return;
  new Gauge({
    name: 'osmo_validator_max_nodes',
    help: 'Standalone: nodes held at most (--max-nodes); a new node beyond it is refused (reason="node-limit").',
    registers: [registry],
  }).set(store.maxNodes);
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
