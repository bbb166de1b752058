// The aggregator's HTTP(S) server: fastify with strict JSON Schema validation (no coercion, no silent
// removal of unknown fields), authentication before the body is read, evaluation, the store, the REST API,
// Prometheus metrics and the OpenAPI document. Built in-process by the tests; the CLI only wires it.
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { performance } from 'node:perf_hooks';
import fastifySwagger from '@fastify/swagger';
import { type Static, Type } from '@sinclair/typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyBodyParser,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { errorMessage } from '../../report/error-message.js';
import { type CheckResult, Report, ROLES, type Role } from '../../report/schema.js';
import { bearerToken, isStaged, type Principal } from '../auth/staged.js';
import type { AgentAuthenticator, KubernetesIntegration } from '../contracts.js';
import { failingCheckIds } from '../reconcile/desired.js';
import type { NodeStore, NodeView } from '../store.js';
import { errorBody, formatValidationErrors, rejectReasonOf } from './errors.js';
import type { ReportEvaluator } from './evaluator.js';
import { type AggregatorMetrics, createMetrics, type RejectReason } from './metrics.js';
import {
  ErrorBody,
  Health,
  NODE_VERDICTS,
  NodeDetail,
  NodeList,
  NodeListQuery,
  NodeParams,
  ReadinessBody,
  ReportAccepted,
  SpecBody,
  Summary,
} from './schemas.js';

export const REPORTS_PATH = '/api/v1/reports';
export const BODY_LIMIT_BYTES = 1024 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the reports route's onRequest hook when the authenticator works in two steps. */
    principal: Principal | null;
    /** Why a report was rejected (metrics), when known more precisely than by status code. */
    rejectReason: RejectReason | null;
  }
}

export interface Readiness {
  ok: boolean;
  reason?: string | undefined;
}

export interface AppDeps {
  evaluator: ReportEvaluator;
  authenticator: AgentAuthenticator;
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
}

export interface AggregatorServer {
  app: FastifyInstance;
  metrics: AggregatorMetrics;
  /** Whether the server speaks HTTPS. */
  tls: boolean;
  /** Swap the serving certificate: new connections get it, open ones keep theirs (TLS reload, bootstrap). */
  setTlsCredentials(certPem: string, keyPem: string): void;
}

export async function buildApp(deps: AppDeps): Promise<AggregatorServer> {
  const { evaluator, authenticator, store } = deps;
  const kubernetes = deps.kubernetes ?? null;
  const metrics = deps.metrics ?? createMetrics(store);
  let httpsServer: HttpsServer | undefined;
  const tls = deps.tls ?? null;

  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit: deps.bodyLimit ?? BODY_LIMIT_BYTES,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // A report is validated exactly as sent: no "12" → 12, no silently dropped unknown fields.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    schemaErrorFormatter: formatValidationErrors,
    // Per-request info logs cost too much at thousands of reports a minute; rejections are logged instead.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    requestTimeout: 30_000,
    ...(tls
      ? {
          serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
            httpsServer = createHttpsServer({ cert: tls.cert, key: tls.key }, handler);
            return httpsServer as unknown as HttpServer;
          },
        }
      : {}),
  });

  app.decorateRequest('principal', null);
  app.decorateRequest('rejectReason', null);

  // Only JSON is accepted (fastify would also parse text/plain): anything else is a 415.
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, explainJsonErrors(defaultJson));

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'osmo-node-validator aggregator',
        description:
          'Reports from node agents, their evaluation against the OSMO on-prem baseline, and status.',
        version: '1',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (request.routeOptions.url === REPORTS_PATH) request.rejectReason ??= rejectReasonOf(status, err.code);
    if (status >= 500) request.log.error({ err }, 'request failed');
    return reply.code(status).send(errorBody(status, status >= 500 ? 'internal error' : err.message));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody(404, `no route ${request.method} ${request.url.split('?')[0]}`)),
  );

  // One histogram child per (route, method, status), looked up once: prom-client would otherwise hash the
  // label object on every request.
  const requestSeconds = new Map<string, { observe(value: number): void }>();
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${reply.statusCode} ${request.method} ${route}`;
    let child = requestSeconds.get(key);
    if (child === undefined) {
      child = metrics.httpRequestSeconds.labels({
        route,
        method: request.method,
        status: String(reply.statusCode),
      });
      requestSeconds.set(key, child);
    }
    child.observe(reply.elapsedTime / 1000);
    if (route === REPORTS_PATH && reply.statusCode >= 400) {
      metrics.reportsRejected.inc({
        reason: request.rejectReason ?? rejectReasonOf(reply.statusCode, undefined),
      });
    }
  });

  const staged = isStaged(authenticator) ? authenticator : null;
  const reject = (
    request: FastifyRequest,
    reply: FastifyReply,
    status: 401 | 403 | 503,
    reason: string,
    retryAfterSeconds = 5,
  ): FastifyReply => {
    request.rejectReason = status === 401 ? 'auth' : status === 403 ? 'forbidden' : 'unavailable';
    request.log.info({ status, reason }, 'report rejected');
    if (status === 401) reply.header('www-authenticate', 'Bearer');
    if (status === 503) reply.header('retry-after', String(retryAfterSeconds));
    return reply.code(status).send(errorBody(status, reason));
  };

  const errorResponses = {
    400: ErrorBody,
    401: ErrorBody,
    403: ErrorBody,
    413: ErrorBody,
    415: ErrorBody,
    503: ErrorBody,
  };

  app.post<{ Body: Report }>(
    REPORTS_PATH,
    {
      schema: {
        summary: "Submit an agent's report",
        description:
          'The body must match the report schema exactly (no type coercion, no unknown fields, at most 1 MiB). ' +
          'The bearer token must be allowed to report for `node`.',
        security: [{ bearer: [] }],
        body: Report,
        response: { 202: ReportAccepted, ...errorResponses },
      },
      // Before the body is read: a missing or bad token costs no parsing.
      onRequest: async (request, reply) => {
        if (!staged) return; // a one-step authenticator runs in preHandler, once the node is known
        const id = await staged.identify(bearerToken(request.headers.authorization));
        if (!id.ok) return reject(request, reply, id.status, id.reason, id.retryAfterSeconds);
        request.principal = id.principal;
      },
      // After validation: may this caller speak for report.node?
      preHandler: async (request, reply) => {
        const node = request.body.node;
        const outcome = request.principal
          ? await request.principal.authorize(node)
          : await authenticator.authenticate(bearerToken(request.headers.authorization), node);
        if (!outcome.ok) return reject(request, reply, outcome.status, outcome.reason);
      },
    },
    async (request, reply) => {
      let report = request.body;
      const labels = kubernetes?.cluster.labelsOf(report.node);
      const previous = evaluator.reuse ? store.latest(report.node) : undefined;
      let result = previous ? evaluator.reuse?.(previous, report, labels) : undefined;
      if (previous && result) {
        // Same facts as last time: store the previous facts object (the result shares it), so a node keeps
        // one facts object and this request's parsed copy dies young.
        report = { ...report, facts: previous.report.facts, probeErrors: previous.report.probeErrors };
      } else {
        const started = performance.now();
        result = evaluator.evaluate(report, labels);
        metrics.evaluationSeconds.observe((performance.now() - started) / 1000);
      }
      const view = store.accept(report, result);
      metrics.reportsAccepted.inc();
      return reply.code(202).send({
        node: view.name,
        role: view.role,
        verdict: view.verdict,
        failingChecks: failingChecks(view),
        evaluatedAt: result.evaluatedAt,
      });
    },
  );

  app.get<{ Querystring: Static<typeof NodeListQuery> }>(
    '/api/v1/nodes',
    {
      schema: {
        summary: 'Every known node',
        description: `Filters: verdict (${NODE_VERDICTS.join(', ')}), role (${ROLES.join(', ')}), stale (true, false).`,
        querystring: NodeListQuery,
        response: { 200: NodeList, 400: ErrorBody },
      },
    },
    async (request) => {
      const { verdict, role, stale } = request.query;
      const reported = store.list().map((n) => ({
        name: n.name,
        role: n.role,
        verdict: n.verdict,
        failingChecks: failingChecks(n),
        lastReportAt: n.lastReportAt as string | null,
        stale: n.stale,
      }));
      // Managed nodes silent since this process started (past their deadline): stale, verdict unknown.
      const unreported = store.unreportedStale().map((n) => ({ ...n, failingChecks: [] as string[] }));
      const nodes = [...reported, ...unreported]
        .filter(
          (n) =>
            (verdict === undefined || n.verdict === verdict) &&
            (role === undefined || n.role === role) &&
            (stale === undefined || n.stale === (stale === 'true')),
        )
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return { nodes, total: nodes.length };
    },
  );

  app.get<{ Params: Static<typeof NodeParams> }>(
    '/api/v1/nodes/:name',
    {
      schema: {
        summary: "One node's latest report and evaluation",
        description: 'The evaluation result; `verdict` is `unknown` while the node is stale.',
        params: NodeParams,
        response: { 200: NodeDetail, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const view = store.get(request.params.name);
      if (!view) {
        return reply
          .code(404)
          .send(errorBody(404, `node "${request.params.name}" is not known: no report received from it`));
      }
      const detail: Record<string, unknown> = {
        ...view.result,
        verdict: view.verdict,
        evaluatedVerdict: view.result.verdict,
        stale: view.stale,
        lastReportAt: view.lastReportAt,
      };
      if (kubernetes) detail['plannedChanges'] = kubernetes.changes(view.name);
      return detail;
    },
  );

  app.get(
    '/api/v1/summary',
    {
      schema: {
        summary: 'Counts by role and verdict, and the cluster-level checks',
        response: { 200: Summary },
      },
    },
    async (request) => {
      const views = store.list();
      const byRole = Object.fromEntries(ROLES.map((r) => [r, zeroCounts()])) as Record<Role, Counts>;
      const byVerdict = zeroCounts();
      for (const v of [...views, ...store.unreportedStale()]) {
        for (const c of [byVerdict, byRole[v.role]]) {
          c.total++;
          c[v.verdict]++;
          if (v.stale) c.stale++;
        }
      }
      let clusterChecks: CheckResult[] = [];
      if (kubernetes) {
        try {
          clusterChecks = await kubernetes.clusterChecks(views.map(toNodeState));
        } catch (err) {
          request.log.error({ err }, 'cluster checks failed');
          clusterChecks = [clusterChecksError(err)];
        }
      }
      return {
        total: byVerdict.total,
        stale: byVerdict.stale,
        byVerdict,
        byRole,
        clusterChecks,
        generatedAt: new Date().toISOString(),
      };
    },
  );

  app.get(
    '/api/v1/spec',
    { schema: { summary: 'The spec in force', response: { 200: SpecBody } } },
    async () => evaluator.spec,
  );

  app.get('/healthz', { schema: { summary: 'Liveness', response: { 200: Health } } }, async () => ({
    status: 'ok',
  }));

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: the spec is loaded and, with Kubernetes, the node informer has synced',
        description:
          '200 `ready`, or 200 `degraded` with `specError` while a changed spec file is invalid or ' +
          'unreadable (the last good spec stays in force and reports are still accepted); 503 when not ready.',
        response: {
          200: ReadyBody,
          503: { ...ErrorBody, properties: { ...ErrorBody.properties, ...ReadinessBody.properties } },
        },
      },
    },
    async (_request, reply) => {
      const checks: Array<() => Readiness> = [
        () => (evaluator.spec ? { ok: true } : { ok: false, reason: 'spec not loaded' }),
        ...(kubernetes ? [() => kubernetes.ready()] : []),
        ...(deps.readiness ?? []),
      ];
      for (const check of checks) {
        const r = check();
        if (!r.ok) {
          const reason = r.reason ?? 'not ready';
          return reply.code(503).send({ ...errorBody(503, reason), status: 'not ready', reason });
        }
      }
      const specError = deps.specError?.() ?? null;
      return specError === null ? { status: 'ready' } : { status: 'degraded', specError };
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics',
        response: {
          200: {
            description: 'Prometheus text exposition format',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (_request, reply) => {
      const body = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(body);
    },
  );

  app.get(
    '/openapi.json',
    {
      schema: {
        summary: 'This OpenAPI document',
        response: {
          200: {
            description: 'OpenAPI 3 document',
            content: { 'application/json': { schema: { type: 'object', additionalProperties: true } } },
          },
        },
      },
    },
    async () => app.swagger(),
  );

  return {
    app,
    metrics,
    tls: tls !== null,
    setTlsCredentials(certPem: string, keyPem: string) {
      if (!httpsServer) throw new Error('the server was built without TLS; cannot set TLS credentials');
      // Throws on a bad pair before anything changes, so the previous certificate stays in use.
      httpsServer.setSecureContext({ cert: certPem, key: keyPem });
    },
  };
}

const ReadyBody = Type.Object({ ...ReadinessBody.properties, specError: Type.Optional(Type.String()) });

type Counts = { total: number; pass: number; warn: number; fail: number; unknown: number; stale: number };
const zeroCounts = (): Counts => ({ total: 0, pass: 0, warn: 0, fail: 0, unknown: 0, stale: 0 });

function failingChecks(view: NodeView): string[] {
  return failingCheckIds(view.result.checks);
}

function toNodeState(v: NodeView) {
  return { node: v.name, role: v.role, verdict: v.verdict, stale: v.stale, result: v.result };
}

function clusterChecksError(err: unknown): CheckResult {
  return {
    id: 'cluster.checks',
    status: 'error',
    observed: null,
    expected: null,
    message: `cluster checks could not run: ${errorMessage(err)}`,
    remediation: null,
    source: null,
  };
}

/** Fastify's JSON parser (secure-json-parse, __proto__/constructor → error) with a message saying why. */
function explainJsonErrors(parse: FastifyBodyParser<string>): FastifyBodyParser<string> {
  return (request, body, done) => {
    parse(request, body, (err, value) => {
      if (!err) return done(null, value);
      if ((err as FastifyError).code !== 'FST_ERR_CTP_INVALID_JSON_BODY') return done(err, undefined);
      let message: string;
      try {
        JSON.parse(body);
        message = 'body contains a forbidden "__proto__" or "constructor.prototype" key';
      } catch (syntax) {
        message = `body is not valid JSON: ${errorMessage(syntax)}`;
      }
      done(
        Object.assign(new Error(message), { statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' }),
        undefined,
      );
    });
  };
}
