// Everything that can be wrong with the aggregator's configuration, found before anything starts: the
// spec, the Kubernetes configuration, the serving certificate files, the agents' authenticator and the
// label prefix. Each problem throws (the command then exits 2 with the message).
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { formatDuration } from '../report/duration.js';
import { errorMessage } from '../report/error-message.js';
import { UsageError } from '../report/usage-error.js';
import { loadSpec, type Spec } from '../spec/load.js';
import { NoAuthenticator } from './auth/no-auth.js';
import {
  accessReviewApisFrom,
  KubernetesReadAccess,
  MetricsOpen,
  OpenReads,
  type ReadAccess,
  ReadTokenAccess,
} from './auth/read-access.js';
import { SharedTokenAuthenticator } from './auth/shared-token.js';
import { TokenFile } from './auth/token-file.js';
import { TokenReviewAuthenticator, tokenReviewApisFrom } from './auth/token-review.js';
import type { AggregatorConfig } from './config.js';
import type { AgentAuthenticator } from './contracts.js';
import { describeKubeConfigSource, loadKubeConfig } from './k8s/client.js';
import { makeNames } from './k8s/names.js';
import { TokenBucket } from './k8s/rate-limit.js';
import { readSpecFile } from './spec-watcher.js';
import { readTlsPairSync } from './tls/serving.js';

export interface Preflight {
  spec: Spec;
  /** sha256 of the --spec file as read here: the spec watcher compares later content with exactly this. */
  specHash: string | undefined;
  /** null: standalone (neither --kubeconfig nor in-cluster). */
  kubeConfig: KubeConfig | null;
  authenticator: AgentAuthenticator;
  /** Who may read the API and /metrics. */
  readAccess: ReadAccess;
  /** The --tls-cert/--tls-key files, read. */
  tlsPair: { cert: string; key: string } | undefined;
}

export async function preflight(
  config: AggregatorConfig,
  logger: Logger,
  registry: Registry,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Preflight> {
  // Read once, hashed: the watcher compares later content with exactly what is in force.
  const { spec, hash: specHash } = config.specFile
    ? await readSpecFile(config.specFile)
    : { spec: await loadSpec(), hash: undefined };
  let kubeConfig: KubeConfig | null;
  const source = { file: config.kubeconfig, context: config.kubeContext, homeConfig: false, env };
  try {
    kubeConfig = loadKubeConfig(source);
  } catch (err) {
    throw new UsageError(`${describeKubeConfigSource(source)}: ${errorMessage(err)}`);
  }
  if (!kubeConfig && config.forgetAfterMs <= config.staleAfterMs) {
    throw new UsageError(
      `--forget-after (${formatDuration(config.forgetAfterMs)}) must be longer than --stale-after ` +
        `(${formatDuration(config.staleAfterMs)}): a silent node reads unknown before it is forgotten`,
    );
  }
  if (config.tlsBootstrap && !kubeConfig) {
    throw new UsageError(
      '--tls-bootstrap needs Kubernetes (in-cluster or --kubeconfig); use --tls-cert/--tls-key',
    );
  }
  let tlsPair: { cert: string; key: string } | undefined;
  if (config.tls) {
    try {
      tlsPair = readTlsPairSync(config.tls.certFile, config.tls.keyFile);
    } catch (err) {
      throw new UsageError(errorMessage(err));
    }
  }
  const authenticator = await makeAuthenticator(config, kubeConfig, logger, registry);
  const readAccess = await makeReadAccess(config, kubeConfig, logger);
  if (kubeConfig) makeNames(config.labelPrefix, config.conditionPrefix); // throws on a bad prefix
  return { spec, specHash, kubeConfig, authenticator, readAccess, tlsPair };
}

/** --read-open, else --read-token-file, else (with Kubernetes) RBAC of the bearer; /metrics open on request. */
async function makeReadAccess(
  config: AggregatorConfig,
  kubeConfig: KubeConfig | null,
  logger: Logger,
): Promise<ReadAccess> {
  const access = await readAccessFor(config, kubeConfig, logger);
  return config.metricsOpen ? new MetricsOpen(access) : access;
}

async function readAccessFor(
  config: AggregatorConfig,
  kubeConfig: KubeConfig | null,
  logger: Logger,
): Promise<ReadAccess> {
  if (config.readOpen) return new OpenReads();
  if (config.readTokenFile) {
    const file = config.readTokenFile;
    try {
      return new ReadTokenAccess(
        new TokenFile({
          file,
          onChange: (problem) =>
            problem === null
              ? logger.info({ file }, 'the read token file is usable again: reads are checked against it')
              : logger.error(
                  { file, problem },
                  'the read token file is unusable: every read is refused (503)',
                ),
        }),
      );
    } catch (err) {
      throw new UsageError(`--read-token-file: ${errorMessage(err)}`);
    }
  }
  if (!kubeConfig) {
    throw new UsageError(
      'standalone (no Kubernetes configuration) needs --read-token-file FILE for reads of the API, or an explicit --read-open',
    );
  }
  return new KubernetesReadAccess({
    apis: await accessReviewApisFrom(kubeConfig),
    onError: (err) => logger.warn({ err: errorMessage(err) }, 'Kubernetes API call for read access failed'),
  });
}

/** --no-auth, else the shared --token-file, else (with Kubernetes) TokenReview of ServiceAccount tokens. */
async function makeAuthenticator(
  config: AggregatorConfig,
  kubeConfig: KubeConfig | null,
  logger: Logger,
  registry: Registry,
): Promise<AgentAuthenticator> {
  if (config.noAuth) return new NoAuthenticator(logger);
  if (config.tokenFile) {
    try {
      const file = config.tokenFile;
      return new SharedTokenAuthenticator({
        file,
        onChange: (problem) =>
          problem === null
            ? logger.info({ file }, 'the agent token file is usable again: reports are accepted')
            : logger.error(
                { file, problem },
                'the agent token file is unusable: every report is refused (503) until it is fixed',
              ),
      });
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
    logger: logger.child({ part: 'auth' }),
    registry,
    onError: (err, what) =>
      logger.warn({ err: errorMessage(err), what }, 'Kubernetes API call for authentication failed'),
  });
}
