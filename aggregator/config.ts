// The aggregator's configuration: its command line parsed against its flag table (options.ts; each flag
// also from OSMO_VALIDATOR_<FLAG>, a flag winning over the environment), then the combinations checked.
// Everything is checked here, before anything starts, and every problem is a UsageError naming the flag
// (exit status 2).
import type { Role } from '../report/constants.js';
import { type FlagValues, parseFlagTable } from '../report/flag-table.js';
import type { LogFormat } from '../report/log-line.js';
import { UsageError } from '../report/usage-error.js';
import type { NamespacedName } from './k8s/namespaced-name.js';
import { AGGREGATOR_FLAGS, type AggregatorLogLevel } from './options.js';
import type { ConnectionLimits } from './server/connection-limits.js';

export type AggregatorFlagValues = FlagValues<typeof AGGREGATOR_FLAGS>;

export interface AggregatorConfig {
  listen: { host: string; port: number };
  specFile: string | undefined;
  specPollMs: number;
  kubeconfig: string | undefined;
  /** --context: a kubeconfig context other than the current one. */
  kubeContext: string | undefined;
  tokenFile: string | undefined;
  tls: { certFile: string; keyFile: string } | undefined;
  tlsBootstrap: NamespacedName | undefined;
  insecureHttp: boolean;
  connections: ConnectionLimits;
  /** On SIGTERM: in-flight requests get this long, then every connection left is destroyed. */
  shutdownTimeoutMs: number;
  dryRun: boolean;
  tokenAudience: string;
  agentServiceAccount: NamespacedName;
  staleAfterMs: number;
  resyncMs: number;
  noReportGraceMs: number;
  /** Standalone only: the cap on nodes held, and the silence after which one is forgotten. */
  maxNodes: number;
  forgetAfterMs: number;
  noAuth: boolean;
  readTokenFile: string | undefined;
  readOpen: boolean;
  metricsOpen: boolean;
  logLevel: AggregatorLogLevel;
  logFormat: LogFormat;
  labelPrefix: string;
  /** Prefix of the node condition's type; ends in osmo.nvidia.com/ (checked by the flag). */
  conditionPrefix: string;
  taintRoles: Role[] | undefined;
  maxTaintedPercent: number | undefined;
  guardMaxPercent: number;
  guardWindowMs: number;
  qps: number | undefined;
  burst: number | undefined;
  tokenReviewQps: number;
  tokenReviewBurst: number;
}

/** Exactly one way of serving: certificate files, the in-cluster bootstrap, or explicit plain HTTP. */
function checkTlsChoice(v: AggregatorFlagValues): void {
  if ((v['tls-cert'] === undefined) !== (v['tls-key'] === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together: pass both files');
  }
  const modes = [
    v['tls-cert'] ? '--tls-cert/--tls-key' : '',
    v['tls-bootstrap'] ? '--tls-bootstrap' : '',
    v['insecure-http'] ? '--insecure-http' : '',
  ].filter(Boolean);
  if (modes.length === 0) {
    throw new UsageError(
      'no TLS configured: pass --tls-cert FILE --tls-key FILE (or --tls-bootstrap NAMESPACE/SECRET in a cluster); ' +
        'plain HTTP only with an explicit --insecure-http',
    );
  }
  if (modes.length > 1) throw new UsageError(`choose one of ${modes.join(', ')}`);
}

/** The checked configuration from parsed flag values (no file is read here). */
export function parseAggregatorConfig(v: AggregatorFlagValues): AggregatorConfig {
  checkTlsChoice(v);
  if (v['no-auth'] && v['token-file'] !== undefined) {
    throw new UsageError('--no-auth and --token-file contradict each other: choose one');
  }
  if (v['read-open'] && v['read-token-file'] !== undefined) {
    throw new UsageError('--read-open and --read-token-file contradict each other: choose one');
  }
  const certFile = v['tls-cert'];
  const keyFile = v['tls-key'];
  return {
    listen: v.listen,
    specFile: v.spec,
    specPollMs: v['spec-poll'],
    kubeconfig: v.kubeconfig,
    kubeContext: v.context,
    tokenFile: v['token-file'],
    tls: certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : undefined,
    tlsBootstrap: v['tls-bootstrap'],
    insecureHttp: v['insecure-http'],
    connections: {
      maxConnections: v['max-connections'],
      maxConnectionsPerClient: v['max-connections-per-client'],
      handshakeTimeoutMs: v['handshake-timeout'],
      headersTimeoutMs: v['headers-timeout'],
      keepAliveTimeoutMs: v['keep-alive-timeout'],
    },
    shutdownTimeoutMs: v['shutdown-timeout'],
    dryRun: v['dry-run'],
    tokenAudience: v['token-audience'],
    agentServiceAccount: v['agent-service-account'],
    staleAfterMs: v['stale-after'],
    resyncMs: v.resync,
    noReportGraceMs: v['no-report-grace'],
    maxNodes: v['max-nodes'],
    forgetAfterMs: v['forget-after'],
    noAuth: v['no-auth'],
    readTokenFile: v['read-token-file'],
    readOpen: v['read-open'],
    metricsOpen: v['metrics-open'],
    logLevel: v['log-level'],
    logFormat: v['log-format'],
    labelPrefix: v['label-prefix'],
    conditionPrefix: v['condition-prefix'],
    taintRoles: v['taint-roles'],
    maxTaintedPercent: v['max-tainted-percent'],
    guardMaxPercent: v['guard-max-percent'],
    guardWindowMs: v['guard-window'],
    qps: v.qps,
    burst: v.burst,
    tokenReviewQps: v['token-review-qps'],
    tokenReviewBurst: v['token-review-burst'],
  };
}

/** argv and the environment → the checked configuration, or 'help'. */
export function readAggregatorConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): AggregatorConfig | 'help' {
  const values = parseFlagTable(AGGREGATOR_FLAGS, argv, env);
  return values === 'help' ? 'help' : parseAggregatorConfig(values);
}
