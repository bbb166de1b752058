// The aggregator's HTTP(S) server: fastify with strict JSON Schema validation (no coercion, no silent
// removal of unknown fields), JSON-only bodies, one error shape, request metrics and the OpenAPI document.
// The routes are plugins in routes/*.ts, each given only what it needs. Built in-process by the tests; the
// CLI only wires it.
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { DNS_SUBDOMAIN_MAX_LENGTH } from '../../report/grammars.js';
import type { ReadAccess } from '../auth/read-access.js';
import type { AgentAuthenticator, KubernetesIntegration } from '../contracts.js';
import type { NodeStore } from '../store.js';
import { SERVING_TLS_OPTIONS } from '../tls/serving.js';
import {
  applyConnectionLimits,
  type ConnectionLimits,
  DEFAULT_CONNECTION_LIMITS,
  requestTimeoutMs,
} from './connection-limits.js';
import { ConnectionRefusals } from './connection-refusals.js';
import { errorBody, errorStatus, formatValidationErrors } from './errors.js';
import type { ReportEvaluator } from './evaluator.js';
import { acceptJsonOnly } from './json-body.js';
import { type AggregatorMetrics, createMetrics } from './metrics.js';
import { finishDocument, OPENAPI_INFO } from './openapi-document.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { healthRoutes, type Readiness } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { openApiRoutes } from './routes/openapi.js';
import { readApiRoutes } from './routes/read-api.js';
import { reportRoutes } from './routes/reports.js';
import { buildSchemaCompiler, type SchemaCompiler } from './validation.js';

export type { Readiness } from './routes/health.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

export interface AppDeps {
  evaluator: ReportEvaluator;
  authenticator: AgentAuthenticator;
  /** Who may read GET /api/v1/* and /metrics (auth/read-access.ts); /healthz, /readyz and /openapi.json stay open. */
  readAccess: ReadAccess;
  store: NodeStore;
  /** Present with a Kubernetes configuration; null/undefined when standalone. */
  kubernetes?: KubernetesIntegration | null | undefined;
  metrics?: AggregatorMetrics | undefined;
  /** A pino logger; omitted = silent. */
  logger?: FastifyBaseLogger | undefined;
  /** HTTPS serving credentials (PEM). Omitted = plain HTTP (the CLI allows that only with --insecure-http). */
  tls?: { cert: string; key: string } | null | undefined;
  /** Further readiness conditions (e.g. the TLS bootstrap has a certificate). */
  readiness?: Array<() => Readiness> | undefined;
  /**
   * Why the spec file on disk is not the one in force (invalid or unreadable after a change), or null.
   * /readyz then answers 200 `{"status":"degraded","specError":...}`: the last good spec keeps serving,
   * and failing readiness would cut every agent off a single replica and turn the fleet `unknown`.
   */
  specError?: (() => string | null) | undefined;
  bodyLimit?: number | undefined;
  /** The window of the rejected reports' info summary (routes/reports.ts); omitted = a minute. */
  rejectionSummaryMs?: number | undefined;
  /** Connection caps and timeouts (connection-limits.ts); omitted = the defaults. */
  connections?: ConnectionLimits | undefined;
}

export interface AggregatorServer {
  app: FastifyInstance;
  metrics: AggregatorMetrics;
  /** Whether the server speaks HTTPS. */
  tls: boolean;
  /** Swap the serving certificate: new connections get it, open ones keep theirs (TLS reload, bootstrap). */
  setTlsCredentials(certPem: string, keyPem: string): void;
  /**
   * Shutdown within a deadline: stops accepting, closes every connection not answering a request (idle
   * keep-alive, stalled TLS handshakes, headers trickling in), lets the requests in flight finish, and at
   * `deadlineMs` destroys whatever is left, so no client can hold the process past it.
   */
  close(deadlineMs: number): Promise<ShutdownFigures>;
}

export interface ShutdownFigures {
  /** Connections closed at once: not answering a request. */
  closedIdle: number;
  /** Connections still open at the deadline, destroyed. */
  destroyedAtDeadline: number;
  durationMs: number;
}

export async function buildApp(deps: AppDeps): Promise<AggregatorServer> {
  const { store } = deps;
  const kubernetes = deps.kubernetes ?? null;
  const metrics = deps.metrics ?? createMetrics(store);
  const bodyLimit = deps.bodyLimit ?? BODY_LIMIT_BYTES;
  const tls = deps.tls ?? null;
  const limits = deps.connections ?? DEFAULT_CONNECTION_LIMITS;
  let httpsServer: HttpsServer | undefined;

  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit,
    // A path parameter is a node name (at most 253 characters): room for one, so the longest name is found
    // and a longer one gets the schema's 400 saying why (fastify's default, 100, answered 414).
    routerOptions: { maxParamLength: 2 * DNS_SUBDOMAIN_MAX_LENGTH },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    schemaErrorFormatter: formatValidationErrors,
    // Per-request info logs cost too much at thousands of reports a minute; rejections are logged instead.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    requestTimeout: requestTimeoutMs(limits),
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    ...(tls
      ? {
          serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
            httpsServer = createHttpsServer(
              {
                ...SERVING_TLS_OPTIONS,
                cert: tls.cert,
                key: tls.key,
                handshakeTimeout: limits.handshakeTimeoutMs,
                // Header and request deadlines are checked this often (Node's default: every 30 s).
                connectionsCheckingInterval: 1000,
              },
              handler,
            );
            return httpsServer as unknown as HttpServer;
          },
        }
      : {}),
  });

  if (tls) metrics.observeServingCertificate(tls.cert);
  const close = limitConnections(app, limits, { tls: tls !== null, metrics, logger: deps.logger });
  const compileSchema = buildSchemaCompiler();
  app.setValidatorCompiler(compileSchema);
  acceptJsonOnly(app);
  recordRequestDurations(app, metrics);
  await app.register(fastifySwagger, {
    openapi: OPENAPI_INFO,
    transformObject: (d) => finishDocument('openapiObject' in d ? d.openapiObject : d.swaggerObject),
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = errorStatus(err);
    if (status >= 500) request.log.error({ err }, 'request failed');
    return reply.code(status).send(errorBody(status, status >= 500 ? 'internal error' : err.message));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody(404, `no route ${request.method} ${request.url.split('?')[0]}`)),
  );

  await registerRoutes(app, deps, { kubernetes, metrics, bodyLimit, compileSchema });

  return {
    app,
    metrics,
    tls: tls !== null,
    setTlsCredentials(certPem: string, keyPem: string) {
      if (!httpsServer) throw new Error('the server was built without TLS; cannot set TLS credentials');
      // Throws on a bad pair before anything changes, so the previous certificate stays in use.
      httpsServer.setSecureContext({ ...SERVING_TLS_OPTIONS, cert: certPem, key: keyPem });
      metrics.observeServingCertificate(certPem);
    },
    close,
  };
}

/** The caps and deadlines of connection-limits.ts, their metrics and log, and the shutdown they allow. */
function limitConnections(
  app: FastifyInstance,
  limits: ConnectionLimits,
  options: { tls: boolean; metrics: AggregatorMetrics; logger: FastifyBaseLogger | undefined },
): AggregatorServer['close'] {
  const { metrics } = options;
  const refusals = new ConnectionRefusals({ logger: options.logger, counter: metrics.connectionsRefused });
  const connections = applyConnectionLimits(app.server, limits, {
    tls: options.tls,
    onRefused: (reason, address) => refusals.refused(reason, address),
  });
  metrics.observeOpenConnections(() => connections.open());
  return async (deadlineMs: number) => {
    const started = Date.now();
    let destroyedAtDeadline = 0;
    const deadline = setTimeout(() => {
      destroyedAtDeadline = connections.destroyAll();
    }, deadlineMs);
    try {
      const closed = app.close(); // 503 on requests from now on, stops accepting once its hooks ran
      const closedIdle = connections.beginClose();
      await closed;
      refusals.flush();
      return { closedIdle, destroyedAtDeadline, durationMs: Date.now() - started };
    } finally {
      clearTimeout(deadline);
    }
  };
}

/** The route plugins, each given only what it needs; registration order is the OpenAPI document's order. */
async function registerRoutes(
  app: FastifyInstance,
  deps: AppDeps,
  built: {
    kubernetes: KubernetesIntegration | null;
    metrics: AggregatorMetrics;
    bodyLimit: number;
    compileSchema: SchemaCompiler;
  },
): Promise<void> {
  const { evaluator, authenticator, store, readAccess } = deps;
  const { kubernetes, metrics, bodyLimit, compileSchema } = built;
  const cluster = kubernetes?.cluster ?? null;
  const rejectionSummaryMs = deps.rejectionSummaryMs;
  await app.register(reportRoutes, {
    evaluator,
    authenticator,
    store,
    cluster,
    metrics,
    bodyLimit,
    rejectionSummaryMs,
    compileSchema,
  });
  await app.register(readApiRoutes, { evaluator, store, kubernetes, specError: deps.specError, readAccess });
  const readiness = deps.readiness ?? [];
  await app.register(healthRoutes, { evaluator, kubernetes, readiness, specError: deps.specError });
  await app.register(metricsRoutes, { registry: metrics.registry, readAccess });
  await app.register(openApiRoutes);
  await app.register(dashboardRoutes);
}

/**
 * Every response's latency by (route, method, status), on every route including 404s. Each route gets its
 * own hook that knows its path (`request.routeOptions` builds an object per call) and keeps one histogram
 * child per (method, status), looked up once: prom-client would otherwise hash the labels on every request.
 * Registered before any route, so every route gets it; requests that match none are counted as `unmatched`.
 */
function recordRequestDurations(app: FastifyInstance, metrics: AggregatorMetrics): void {
  const durations = (route: string) => {
    const children = new Map<string, { observe(value: number): void }>();
    return (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
      const key = request.method + reply.statusCode;
      let child = children.get(key);
      if (child === undefined) {
        const labels = { route, method: request.method, status: String(reply.statusCode) };
        child = metrics.httpRequestSeconds.labels(labels);
        children.set(key, child);
      }
      child.observe(reply.elapsedTime / 1000);
      done();
    };
  };
  app.addHook('onRoute', (route) => {
    const own = route.onResponse;
    const hook = durations(route.url);
    route.onResponse = own === undefined ? [hook] : Array.isArray(own) ? [...own, hook] : [own, hook];
  });
  const unmatched = durations('unmatched');
  app.addHook('onResponse', (request, reply, done) => {
    if (request.is404) return unmatched(request, reply, done);
    done();
  });
}
