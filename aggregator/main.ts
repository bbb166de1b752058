// The aggregator's composition root: from a checked configuration (config.ts) it finds what is wrong
// before anything starts (preflight.ts), builds the services — Kubernetes integration, store, metrics,
// TLS, spec evaluation and its watcher, the HTTP server — starts them, waits for SIGTERM/SIGINT (or the
// hooks' signal) and shuts them down. Exit status: 2 when the configuration turns out unusable before
// anything starts, 1 when starting or stopping fails, 0 after a clean shutdown.
import type { KubeConfig } from '@kubernetes/client-node';
import { type Logger, pino } from 'pino';
import { Registry } from 'prom-client';
import { errorMessage } from '../report/error-message.js';
import { textLogWriter } from '../report/log-line.js';
import type { ClusterRules } from '../spec/spec-types.js';
import type { AggregatorConfig } from './config.js';
import { makeNames } from './k8s/names.js';
import { createKubernetesIntegration, type KubernetesIntegrationHandle } from './kubernetes-integration.js';
import { type Preflight, preflight } from './preflight.js';
import { type AggregatorServer, buildApp, type Readiness } from './server/app.js';
import { type AggregatorMetrics, createMetrics } from './server/metrics.js';
import { createSpecEvaluator, type SpecEvaluator } from './server/spec-evaluator.js';
import { podEventRecorder, SpecWatcher } from './spec-watcher.js';
import { NodeStore } from './store.js';
import { bootstrapTls, serviceDnsNames, type TlsBootstrap } from './tls/bootstrap.js';
import { type TlsWatcher, watchTlsFiles } from './tls/serving.js';

/** The Service agents reach the aggregator through (manifests/base/service.yaml): the bootstrap's SANs. */
export const SERVICE_NAME = 'osmo-node-validator';
const TLS_POLL_MS = 10_000;

export interface RunHooks {
  env?: NodeJS.ProcessEnv;
  /** Stops the service instead of SIGTERM/SIGINT (tests). */
  signal?: AbortSignal;
  /** Called once listening, with the URL (tests pass --listen 127.0.0.1:0). */
  onListening?: (url: string, server: AggregatorServer) => void;
  stderr?: (text: string) => void;
  stdout?: (text: string) => void;
  /** Where the log lines go (default stderr). */
  logStream?: NodeJS.WritableStream;
}

/** What runs, once built. */
interface Services {
  inputs: Preflight;
  integration: KubernetesIntegrationHandle | null;
  store: NodeStore;
  server: AggregatorServer;
  specWatcher: SpecWatcher | undefined;
  tlsWatcher: TlsWatcher | undefined;
  bootstrap: TlsBootstrap | undefined;
}

export async function runAggregator(config: AggregatorConfig, hooks: RunHooks = {}): Promise<number> {
  const fail = (message: string) => {
    (hooks.stderr ?? ((t: string) => void process.stderr.write(t)))(
      `osmo-node-validator aggregator: ${message}\n`,
    );
    return 2;
  };
  const logger = createLogger(config, hooks.logStream);
  let inputs: Preflight;
  let integration: KubernetesIntegrationHandle | null;
  const registry = new Registry();
  // The cluster checks read the thresholds of the spec in force (reloads included) on each summary.
  let evaluator: SpecEvaluator | undefined;
  try {
    inputs = await preflight(config, logger, registry, hooks.env ?? process.env);
    const spec = inputs.spec;
    const clusterRules = () => (evaluator?.spec ?? spec).cluster;
    integration = buildIntegration(config, inputs.kubeConfig, registry, logger, clusterRules);
  } catch (err) {
    return fail(errorMessage(err));
  }
  const store = buildStore(config, integration, logger);
  integration?.setStateSource((node) => store.stateOf(node));
  const metrics = createMetrics(store, { registry });
  // The bootstrap's rotations reach the server once it exists.
  let server: AggregatorServer | undefined;
  let bootstrap: TlsBootstrap | undefined;
  try {
    bootstrap = await bootstrapServingTls(config, inputs.kubeConfig, logger, (cert, key) => {
      server?.setTlsCredentials(cert, key);
    });
  } catch (err) {
    logger.error({ err }, 'TLS bootstrap failed');
    return 1;
  }
  evaluator = createSpecEvaluator(inputs.spec, {
    // A gpu/jetson probe error keeps the node's role instead of deriving `compute` from missing facts.
    previousRole: (node) => store.get(node)?.result.role,
    ...(integration ? { roleLabel: makeNames(config.labelPrefix, config.conditionPrefix).labels.role } : {}),
  });
  const specWatcher = buildSpecWatcher(
    config,
    inputs,
    { evaluator, store, integration, metrics, logger },
    hooks,
  );
  const readiness: Array<() => Readiness> = [];
  server = await buildApp({
    evaluator,
    authenticator: inputs.authenticator,
    readAccess: inputs.readAccess,
    store,
    kubernetes: integration,
    metrics,
    logger,
    tls: bootstrap ? { cert: bootstrap.certPem, key: bootstrap.keyPem } : (inputs.tlsPair ?? null),
    readiness,
    specError: () => specWatcher?.error() ?? null,
    connections: config.connections,
  });
  const tlsWatcher = watchCertificateFiles(config, server, logger);
  const services = { inputs, integration, store, server, specWatcher, tlsWatcher, bootstrap };
  return serveUntilStopped(services, config, logger, hooks);
}

/**
 * The log: JSON lines with a string level and an RFC 3339 time, as the agent writes them
 * (report/log-line.ts), on stderr; `--log-format text` turns each line into text.
 */
function createLogger(config: AggregatorConfig, stream: NodeJS.WritableStream | undefined): Logger {
  const out = stream ?? pino.destination({ fd: 2, sync: false });
  return pino(
    {
      level: config.logLevel,
      base: { component: 'aggregator' },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    config.logFormat === 'text' ? textLogWriter(out) : out,
  );
}

/** With a Kubernetes configuration: labels, taints, the condition and events; null standalone. */
function buildIntegration(
  config: AggregatorConfig,
  kubeConfig: KubeConfig | null,
  registry: Registry,
  logger: Logger,
  clusterRules: () => ClusterRules,
): KubernetesIntegrationHandle | null {
  if (!kubeConfig) {
    logger.info({}, 'no Kubernetes configuration: running standalone, nothing is written to Kubernetes');
    if (config.dryRun) logger.warn({}, '--dry-run has no effect standalone');
    return null;
  }
  return createKubernetesIntegration({
    kubeConfig,
    names: makeNames(config.labelPrefix, config.conditionPrefix),
    registry,
    logger: logger.child({ part: 'kubernetes' }),
    dryRun: config.dryRun,
    clusterRules,
    ...(config.taintRoles ? { taintRoles: config.taintRoles } : {}),
    ...(config.maxTaintedPercent !== undefined ? { maxTaintedPercent: config.maxTaintedPercent } : {}),
    resyncMs: config.resyncMs,
    guardMaxPercent: config.guardMaxPercent,
    guardWindowMs: config.guardWindowMs,
    ...(config.qps !== undefined ? { qps: config.qps } : {}),
    ...(config.burst !== undefined ? { burst: config.burst } : {}),
  });
}

function buildStore(
  config: AggregatorConfig,
  integration: KubernetesIntegrationHandle | null,
  logger: Logger,
): NodeStore {
  return new NodeStore({
    staleAfterMs: config.staleAfterMs,
    sink: integration?.sink,
    cluster: integration?.cluster,
    // After a restart, nodes we manage whose agent died must still go stale (the store is memory only).
    ...(integration ? { managedNodes: integration.managedNodes } : {}),
    // Every node of the cluster is in the API; one whose agent never reports turns Unknown after the grace.
    ...(integration ? { clusterNodes: integration.clusterNodes } : {}),
    neverReportedGraceMs: config.noReportGraceMs,
    // Standalone nothing bounds the node names but these (with Kubernetes: the cluster's nodes).
    ...(integration ? {} : standaloneLimits(config, logger)),
    onSinkError: (err) => logger.error({ err }, 'the reconcile sink failed'),
  });
}

function standaloneLimits(config: AggregatorConfig, logger: Logger) {
  return {
    maxNodes: config.maxNodes,
    forgetAfterMs: config.forgetAfterMs,
    onForgotten: (node: string, silentMs: number) =>
      logger.info({ node, silentSeconds: Math.round(silentMs / 1000) }, 'node forgotten (--forget-after)'),
  };
}

/** --tls-bootstrap: the self-issued serving certificate, kept in a Secret and rotated; else undefined. */
async function bootstrapServingTls(
  config: AggregatorConfig,
  kubeConfig: KubeConfig | null,
  logger: Logger,
  onRotate: (cert: string, key: string) => void,
): Promise<TlsBootstrap | undefined> {
  if (!config.tlsBootstrap || !kubeConfig) return undefined;
  const ns = config.tlsBootstrap.namespace;
  return bootstrapTls({
    kubeConfig,
    namespace: ns,
    secretName: config.tlsBootstrap.name,
    dnsNames: [...serviceDnsNames(SERVICE_NAME, ns), 'localhost'],
    onRotate: (cert, key) => {
      onRotate(cert, key);
      logger.info({}, 'serving certificate rotated');
    },
    log: (level, message) => logger[level]({ part: 'tls-bootstrap' }, message),
  });
}

/** Only a --spec file can change; the built-in spec is part of the program. */
function buildSpecWatcher(
  config: AggregatorConfig,
  inputs: Preflight,
  parts: {
    evaluator: ReturnType<typeof createSpecEvaluator>;
    store: NodeStore;
    integration: KubernetesIntegrationHandle | null;
    metrics: AggregatorMetrics;
    logger: Logger;
  },
  hooks: RunHooks,
): SpecWatcher | undefined {
  const { integration, logger } = parts;
  const { kubeConfig } = inputs;
  if (!config.specFile || !inputs.specHash) return undefined;
  return new SpecWatcher({
    file: config.specFile,
    initialHash: inputs.specHash,
    evaluator: parts.evaluator,
    store: parts.store,
    labelsOf: integration ? (node) => integration.cluster.labelsOf(node) : undefined,
    intervalMs: config.specPollMs,
    metrics: parts.metrics,
    logger: logger.child({ part: 'spec' }),
    // Dry-run writes nothing to Kubernetes, Events included.
    events:
      kubeConfig && !config.dryRun
        ? podEventRecorder({
            kubeConfig,
            env: hooks.env ?? process.env,
            component: makeNames(config.labelPrefix, config.conditionPrefix).component,
            logger: logger.child({ part: 'spec' }),
          })
        : null,
  });
}

/** --tls-cert/--tls-key: re-read when they change, the server's certificate swapped. */
function watchCertificateFiles(
  config: AggregatorConfig,
  server: AggregatorServer,
  logger: Logger,
): TlsWatcher | undefined {
  if (!config.tls) return undefined;
  const { certFile, keyFile } = config.tls;
  return watchTlsFiles({
    certFile,
    keyFile,
    intervalMs: TLS_POLL_MS,
    onChange: (pair) => {
      server.setTlsCredentials(pair.cert, pair.key);
      logger.info({ certFile }, 'serving certificate reloaded');
    },
    onError: (err) =>
      logger.error({ err }, 'serving certificate not reloaded; the previous one stays in use'),
  });
}

/** Starts the services, serves until asked to stop, and shuts down: 0 clean, 1 failed to start or stop. */
async function serveUntilStopped(
  services: Services,
  config: AggregatorConfig,
  logger: Logger,
  hooks: RunHooks,
): Promise<number> {
  const { integration, store, server, specWatcher } = services;
  // SIGHUP re-reads the spec now. Handled even without --spec: its default action would end the process.
  const onHangup = () => {
    if (specWatcher) specWatcher.reloadInBackground('signal');
    else logger.info({}, 'SIGHUP: the built-in spec is in use (no --spec), nothing to reload');
  };
  process.on('SIGHUP', onHangup);
  const shutdown = async () => {
    process.off('SIGHUP', onHangup);
    specWatcher?.stop();
    // Stops accepting, lets the requests in flight finish; no client holds it past --shutdown-timeout.
    const closed = await server.close(config.shutdownTimeoutMs);
    logger.info({ ...closed, shutdownTimeoutMs: config.shutdownTimeoutMs }, 'connections closed');
    store.stop();
    services.tlsWatcher?.stop();
    services.bootstrap?.stop();
    if (integration) await integration.stop();
  };
  try {
    if (integration) await integration.start();
    store.start();
    specWatcher?.start();
    await server.app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (err) {
    logger.error({ err }, 'the aggregator could not start');
    await shutdown().catch(() => {});
    return 1;
  }
  const url = listeningUrl(server, config);
  logListening(url, services, config, logger);
  hooks.onListening?.(url, server);

  const why = await stopRequested(hooks.signal);
  logger.info({ signal: why }, 'shutting down');
  try {
    await shutdown();
  } catch (err) {
    logger.error({ err }, 'unclean shutdown');
    return 1;
  }
  logger.info({}, 'stopped');
  logger.flush();
  return 0;
}

function listeningUrl(server: AggregatorServer, config: AggregatorConfig): string {
  const address = server.app.server.address();
  const port = address && typeof address === 'object' ? address.port : config.listen.port;
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  return `${server.tls ? 'https' : 'http'}://${host}:${port}`;
}

function logListening(url: string, services: Services, config: AggregatorConfig, logger: Logger): void {
  const { inputs, integration, specWatcher } = services;
  logger.info(
    {
      url,
      auth: inputs.authenticator.describe(),
      reads: inputs.readAccess.describe(),
      kubernetes: integration ? (config.dryRun ? 'dry-run' : 'reconciling') : 'standalone',
      staleAfterMs: config.staleAfterMs,
      spec: config.specFile ?? 'built-in',
      specRevision: inputs.spec.metadata.revision,
      ...(specWatcher ? { specPollMs: config.specPollMs } : {}),
    },
    'aggregator listening',
  );
  if (!services.server.tls) {
    logger.warn({}, 'serving plain HTTP (--insecure-http): tokens and reports travel unencrypted');
  }
}

function stopRequested(signal: AbortSignal | undefined): Promise<string> {
  if (signal) {
    return new Promise((resolve) => {
      if (signal.aborted) resolve('abort');
      else signal.addEventListener('abort', () => resolve('abort'), { once: true });
    });
  }
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(sig);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}
