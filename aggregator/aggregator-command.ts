// The `aggregator` command: checks its configuration, loads the spec, picks authentication (shared token,
// TokenReview or the explicit --no-auth) and TLS (files, in-cluster bootstrap or explicit --insecure-http),
// wires the store, the HTTP server and the Kubernetes integration, and shuts down cleanly on SIGTERM/SIGINT.
import type { KubeConfig } from '@kubernetes/client-node';
import { type Logger, pino } from 'pino';
import { Registry } from 'prom-client';
import { parseDurationInRange } from '../agent/options.js';
import { errorMessage } from '../report/error-message.js';
import { loadSpec } from '../spec/load.js';
import { NoAuthenticator } from './auth/no-auth.js';
import { SharedTokenAuthenticator } from './auth/shared-token.js';
import { TokenReviewAuthenticator, tokenReviewApisFrom } from './auth/token-review.js';
import {
  type AggregatorConfig,
  DEFAULT_LISTEN,
  DEFAULT_STALE_AFTER,
  envName,
  type FlagSpec,
  parseAggregatorConfig,
  readFlags,
  UsageError,
} from './config.js';
import type { AgentAuthenticator } from './contracts.js';
import { loadKubeConfig } from './k8s/client.js';
import { createKubernetesIntegration, type KubernetesIntegrationHandle } from './k8s/integration.js';
import { makeNames } from './k8s/names.js';
import { TokenBucket } from './k8s/rate-limit.js';
import { type AggregatorServer, buildApp, type Readiness } from './server/app.js';
import { createMetrics } from './server/metrics.js';
import { createSpecEvaluator } from './server/spec-evaluator.js';
import { DEFAULT_SPEC_POLL, podEventRecorder, readSpecFile, SpecWatcher } from './spec-watcher.js';
import { NodeStore } from './store.js';
import { bootstrapTls, serviceDnsNames, type TlsBootstrap } from './tls/bootstrap.js';
import { readTlsPairSync, type TlsWatcher, watchTlsFiles } from './tls/serving.js';

/** The Service agents reach the aggregator through (manifests/base/service.yaml): the bootstrap's SANs. */
export const SERVICE_NAME = 'osmo-node-validator';
const TLS_POLL_MS = 10_000;

// Every flag of the command (the manifests test scans this object for the flags the manifests use).
export const FLAGS = {
  help: { type: 'boolean', short: 'h' },
  listen: { type: 'string' },
  spec: { type: 'string' },
  'spec-poll': { type: 'string' },
  kubeconfig: { type: 'string' },
  'token-file': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-bootstrap': { type: 'string' },
  'insecure-http': { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  'token-audience': { type: 'string' },
  'agent-service-account': { type: 'string' },
  'stale-after': { type: 'string' },
  'no-auth': { type: 'boolean' },
  'log-level': { type: 'string' },
  'label-prefix': { type: 'string' },
  'taint-roles': { type: 'string' },
  'max-tainted-percent': { type: 'string' },
  qps: { type: 'string' },
  burst: { type: 'string' },
  'token-review-qps': { type: 'string' },
  'token-review-burst': { type: 'string' },
} as const satisfies FlagSpec;

export function usage(): string {
  return `Usage: osmo-node-validator aggregator [options]

The central service: receives agents' reports, evaluates them against the spec, serves the REST API
(/api/v1/..., /metrics, /openapi.json) and, with a Kubernetes configuration, reconciles node labels,
taints and the BaselineNotMet condition.

Listening, and TLS (exactly one of the last three):
  --listen HOST:PORT             address to listen on (default ${DEFAULT_LISTEN})
  --tls-cert FILE --tls-key FILE HTTPS with this certificate; the files are re-read when they change
  --tls-bootstrap NS/SECRET      in a cluster: keep a self-issued CA and serving certificate in this Secret
  --insecure-http                plain HTTP (tests, or behind a TLS-terminating proxy)

Authentication of agents:
  (default with Kubernetes)      TokenReview of the agent's projected ServiceAccount token
  --token-audience AUD           audience the tokens must carry (default osmo-node-validator)
  --agent-service-account NS/NAME whose tokens are accepted
                                 (default osmo-node-validator/osmo-node-validator-agent)
  --token-file FILE              a shared bearer token instead (standalone); re-read when it changes
  --no-auth                      accept anything from anyone (lab only; warns on every report)

Evaluation:
  --spec FILE                    the spec to evaluate against (default: the built-in OSMO baseline)
  --spec-poll DURATION           re-read --spec this often (default ${DEFAULT_SPEC_POLL}); SIGHUP re-reads it now.
                                 The file's content is compared (a ConfigMap volume changes by a symlink
                                 swap). A changed, valid spec is put in force and every stored report is
                                 evaluated again (label, taint and condition changes follow). A changed,
                                 invalid or unreadable file leaves the last good spec in force and is
                                 reported: /readyz answers 200 {"status":"degraded","specError":"..."} (not
                                 503: with one replica that would cut every agent off and turn the whole
                                 fleet unknown), osmo_validator_spec_valid 0,
                                 osmo_validator_spec_reload_errors_total, an error log line and, in a
                                 cluster with POD_NAME/POD_NAMESPACE set, a Warning Event on the pod.
  --stale-after DURATION         a node silent this long is "unknown" (default ${DEFAULT_STALE_AFTER})

Kubernetes (with --kubeconfig FILE, or in-cluster; with neither it runs standalone and writes nothing):
  --kubeconfig FILE              kubeconfig to use
  --dry-run                      compute, log and serve the changes; write nothing
  --label-prefix PREFIX          prefix of labels, taint and annotations (default validator.osmo.nvidia.com/)
  --taint-roles LIST             roles whose failing nodes are tainted (default compute,gpu,jetson; or none)
  --max-tainted-percent N        taint at most N% of a role's nodes (default 25)
  --qps N, --burst N             Kubernetes write rate limit (default 20, 50)
  --token-review-qps N, --token-review-burst N
                                 TokenReview rate limit (default 50, 100); excess reports get 503 + Retry-After

Other:
  --log-level LEVEL              trace, debug, info, warn, error, fatal, silent (default info)
  -h, --help                     this help

Every option can also be set in the environment: --stale-after ⇄ ${envName('stale-after')},
--no-auth ⇄ ${envName('no-auth')}=true, and so on (OSMO_VALIDATOR_ + the flag name in upper case with
underscores). A flag on the command line wins. Exit status: 0 after a clean shutdown (SIGTERM/SIGINT),
1 when the service fails after starting, 2 for bad options or an unreadable spec, token file or certificate.
`;
}

export interface RunHooks {
  env?: NodeJS.ProcessEnv;
  /** Stops the service instead of SIGTERM/SIGINT (tests). */
  signal?: AbortSignal;
  /** Called once listening, with the URL (tests pass --listen 127.0.0.1:0). */
  onListening?: (url: string, server: AggregatorServer) => void;
  stderr?: (text: string) => void;
  stdout?: (text: string) => void;
  /** Where the JSON log lines go (default stdout). */
  logStream?: NodeJS.WritableStream;
}

export async function run(argv: string[], hooks: RunHooks = {}): Promise<number> {
  const stderr = hooks.stderr ?? ((t: string) => void process.stderr.write(t));
  const stdout = hooks.stdout ?? ((t: string) => void process.stdout.write(t));
  const fail = (message: string) => {
    stderr(`osmo-node-validator aggregator: ${message}\n`);
    return 2;
  };

  let config: AggregatorConfig;
  let specPollMs: number;
  try {
    const values = readFlags(argv, FLAGS, hooks.env ?? process.env);
    if (values['help'] === true) {
      stdout(usage());
      return 0;
    }
    config = parseAggregatorConfig(values);
    const poll = values['spec-poll'];
    specPollMs = parseDurationInRange(
      typeof poll === 'string' ? poll : DEFAULT_SPEC_POLL,
      '--spec-poll',
      1000,
      24 * 3_600_000,
    );
  } catch (err) {
    if (err instanceof UsageError) return fail(`${err.message}\nRun with --help for the options.`);
    throw err;
  }

  const logger: Logger = pino(
    { level: config.logLevel, base: { component: 'aggregator' } },
    hooks.logStream ?? pino.destination({ fd: 1, sync: false }),
  );

  // ---- everything that can be wrong with the configuration is found before anything starts ----
  let spec: Awaited<ReturnType<typeof loadSpec>>;
  let specHash: string | undefined;
  let kubeConfig: KubeConfig | null;
  let authenticator: AgentAuthenticator;
  let tlsPair: { cert: string; key: string } | undefined;
  try {
    if (config.specFile) {
      // Read once, hashed: the watcher compares later content with exactly what is in force.
      ({ spec, hash: specHash } = await readSpecFile(config.specFile));
    } else {
      spec = await loadSpec();
    }
    try {
      kubeConfig = loadKubeConfig(config.kubeconfig);
    } catch (err) {
      throw new UsageError(`--kubeconfig ${config.kubeconfig}: ${errorMessage(err)}`);
    }
    if (config.tlsBootstrap && !kubeConfig) {
      throw new UsageError(
        '--tls-bootstrap needs Kubernetes (in-cluster or --kubeconfig); use --tls-cert/--tls-key',
      );
    }
    if (config.tls) {
      try {
        tlsPair = readTlsPairSync(config.tls.certFile, config.tls.keyFile);
      } catch (err) {
        throw new UsageError(errorMessage(err));
      }
    }
    authenticator = await makeAuthenticator(config, kubeConfig, logger);
    if (kubeConfig) makeNames(config.labelPrefix); // throws on a bad prefix
  } catch (err) {
    return fail(errorMessage(err));
  }

  // ---- wiring ----
  const registry = new Registry();
  let integration: KubernetesIntegrationHandle | null = null;
  if (kubeConfig) {
    try {
      integration = createKubernetesIntegration({
        kubeConfig,
        names: makeNames(config.labelPrefix),
        registry,
        logger: logger.child({ part: 'kubernetes' }),
        dryRun: config.dryRun,
        ...(config.taintRoles ? { taintRoles: config.taintRoles } : {}),
        ...(config.maxTaintedPercent !== undefined ? { maxTaintedPercent: config.maxTaintedPercent } : {}),
        ...(config.qps !== undefined ? { qps: config.qps } : {}),
        ...(config.burst !== undefined ? { burst: config.burst } : {}),
      });
    } catch (err) {
      return fail(errorMessage(err));
    }
  } else {
    logger.info({}, 'no Kubernetes configuration: running standalone, nothing is written to Kubernetes');
    if (config.dryRun) logger.warn({}, '--dry-run has no effect standalone');
  }

  const store = new NodeStore({
    staleAfterMs: config.staleAfterMs,
    sink: integration?.sink,
    cluster: integration?.cluster,
    // After a restart, nodes we manage whose agent died must still go stale (the store is memory only).
    ...(integration ? { managedNodes: integration.managedNodes } : {}),
    onSinkError: (err) => logger.error({ err }, 'the reconcile sink failed'),
  });
  const metrics = createMetrics(store, { registry });

  let server: AggregatorServer | undefined;
  let bootstrap: TlsBootstrap | undefined;
  let watcher: TlsWatcher | undefined;
  const readiness: Array<() => Readiness> = [];
  try {
    if (config.tlsBootstrap && kubeConfig) {
      const ns = config.tlsBootstrap.namespace;
      bootstrap = await bootstrapTls({
        kubeConfig,
        namespace: ns,
        secretName: config.tlsBootstrap.name,
        dnsNames: [...serviceDnsNames(SERVICE_NAME, ns), 'localhost'],
        onRotate: (cert, key) => {
          server?.setTlsCredentials(cert, key);
          logger.info({}, 'serving certificate rotated');
        },
        log: (level, message) => logger[level]({ part: 'tls-bootstrap' }, message),
      });
      tlsPair = { cert: bootstrap.certPem, key: bootstrap.keyPem };
    }
  } catch (err) {
    logger.error({ err }, 'TLS bootstrap failed');
    return 1;
  }

  const evaluator = createSpecEvaluator(spec, {
    // A gpu/jetson probe error keeps the node's role instead of deriving `compute` from missing facts.
    previousRole: (node) => store.get(node)?.result.role,
    ...(integration ? { roleLabel: makeNames(config.labelPrefix).labels.role } : {}),
  });
  // Only a --spec file can change; the built-in spec is part of the program.
  const specWatcher =
    config.specFile && specHash
      ? new SpecWatcher({
          file: config.specFile,
          initialHash: specHash,
          evaluator,
          store,
          labelsOf: integration ? (node) => integration?.cluster.labelsOf(node) : undefined,
          intervalMs: specPollMs,
          metrics,
          logger: logger.child({ part: 'spec' }),
          // Dry-run writes nothing to Kubernetes, Events included.
          events:
            kubeConfig && !config.dryRun
              ? podEventRecorder({
                  kubeConfig,
                  env: hooks.env ?? process.env,
                  component: makeNames(config.labelPrefix).component,
                  logger: logger.child({ part: 'spec' }),
                })
              : null,
        })
      : undefined;
  server = await buildApp({
    evaluator,
    authenticator,
    store,
    kubernetes: integration,
    metrics,
    logger,
    tls: tlsPair ?? null,
    readiness,
    specError: () => specWatcher?.error() ?? null,
  });
  const live = server;
  if (config.tls) {
    const { certFile, keyFile } = config.tls;
    watcher = watchTlsFiles({
      certFile,
      keyFile,
      intervalMs: TLS_POLL_MS,
      onChange: (pair) => {
        live.setTlsCredentials(pair.cert, pair.key);
        logger.info({ certFile }, 'serving certificate reloaded');
      },
      onError: (err) =>
        logger.error({ err }, 'serving certificate not reloaded; the previous one stays in use'),
    });
  }

  // SIGHUP re-reads the spec now. Handled even without --spec: its default action would end the process.
  const onHangup = () => {
    if (specWatcher) {
      specWatcher.reloadInBackground('signal');
    } else {
      logger.info({}, 'SIGHUP: the built-in spec is in use (no --spec), nothing to reload');
    }
  };
  process.on('SIGHUP', onHangup);

  const shutdown = async () => {
    process.off('SIGHUP', onHangup);
    specWatcher?.stop();
    await live.app.close(); // stops accepting, lets in-flight requests finish
    store.stop();
    watcher?.stop();
    bootstrap?.stop();
    if (integration) await integration.stop();
  };

  try {
    if (integration) await integration.start();
    store.start();
    specWatcher?.start();
    await live.app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (err) {
    logger.error({ err }, 'the aggregator could not start');
    await shutdown().catch(() => {});
    return 1;
  }
  const address = live.app.server.address();
  const port = address && typeof address === 'object' ? address.port : config.listen.port;
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  const url = `${live.tls ? 'https' : 'http'}://${host}:${port}`;
  logger.info(
    {
      url,
      auth: authenticator.describe(),
      kubernetes: integration ? (config.dryRun ? 'dry-run' : 'reconciling') : 'standalone',
      staleAfterMs: config.staleAfterMs,
      spec: config.specFile ?? 'built-in',
      specRevision: spec.metadata.revision,
      ...(specWatcher ? { specPollMs } : {}),
    },
    'aggregator listening',
  );
  if (!live.tls)
    logger.warn({}, 'serving plain HTTP (--insecure-http): tokens and reports travel unencrypted');
  hooks.onListening?.(url, live);

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

async function makeAuthenticator(
  config: AggregatorConfig,
  kubeConfig: KubeConfig | null,
  logger: Logger,
): Promise<AgentAuthenticator> {
  if (config.noAuth) return new NoAuthenticator(logger);
  if (config.tokenFile) {
    try {
      return new SharedTokenAuthenticator({ file: config.tokenFile });
    } catch (err) {
      throw new UsageError(`--token-file: ${errorMessage(err)}`);
    }
  }
  if (!kubeConfig) {
    throw new UsageError(
      'standalone (no Kubernetes configuration) needs --token-file FILE for agent authentication, or an explicit --no-auth',
    );
  }
  return new TokenReviewAuthenticator({
    ...(await tokenReviewApisFrom(kubeConfig)),
    audience: config.tokenAudience,
    serviceAccount: config.agentServiceAccount,
    // Projected ServiceAccount tokens are JWTs: anything else, or an expired one, costs no API call.
    jwtOnly: true,
    limiter: new TokenBucket(config.tokenReviewQps, config.tokenReviewBurst),
    onError: (err, what) =>
      logger.warn({ err: errorMessage(err), what }, 'Kubernetes API call for authentication failed'),
  });
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
