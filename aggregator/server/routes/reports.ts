// POST /api/v1/reports: an agent's report. The token is checked before the body is read (two-step
// authenticators), the body is validated exactly as sent, the caller must be allowed to speak for
// `report.node`, then the report is evaluated (or its previous result reused) and stored. Rejections are
// counted by reason here, by hooks that apply to this route only.
import { performance } from 'node:perf_hooks';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Report, RoleSchema } from '../../../report/schema.js';
import { failingCheckIds } from '../../../spec/failing-checks.js';
import { formatBytes } from '../../../spec/quantity.js';
import { bearerToken, isStaged, type Principal } from '../../auth/staged.js';
import type { AgentAuthenticator, ClusterView } from '../../contracts.js';
import type { NodeStore } from '../../store.js';
import { errorBody, errorStatus, rejectReasonOf } from '../errors.js';
import type { ReportEvaluator } from '../evaluator.js';
import type { AggregatorMetrics, RejectReason } from '../metrics.js';
import { ErrorBody, FailingChecks, NodeVerdictSchema } from '../schemas.js';

export const REPORTS_PATH = '/api/v1/reports';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the reports route's onRequest hook when the authenticator works in two steps. */
    principal: Principal | null;
    /** Why a report was rejected (metrics), when known more precisely than by status code. */
    rejectReason: RejectReason | null;
  }
}

export interface ReportRoutesOptions {
  evaluator: ReportEvaluator;
  authenticator: AgentAuthenticator;
  store: NodeStore;
  /** The cluster's view of the nodes (labels: role and the node.label check); null when standalone. */
  cluster: Pick<ClusterView, 'labelsOf'> | null;
  metrics: Pick<AggregatorMetrics, 'reportsAccepted' | 'reportsRejected' | 'evaluationSeconds'>;
  /** The server's body limit, which the route's description states. */
  bodyLimit: number;
}

const ReportAccepted = Type.Object({
  node: Type.String(),
  role: RoleSchema,
  verdict: NodeVerdictSchema,
  failingChecks: FailingChecks,
  evaluatedAt: Type.String(),
});

function reportSchema(bodyLimit: number) {
  return {
    summary: "Submit an agent's report",
    description:
      `The body must match the report schema exactly (no type coercion, no unknown fields, at most ${formatBytes(bodyLimit, true)}). ` +
      'The bearer token must be allowed to report for `node`.',
    security: [{ bearer: [] }],
    body: Report,
    response: {
      202: ReportAccepted,
      400: ErrorBody,
      401: ErrorBody,
      403: ErrorBody,
      413: ErrorBody,
      415: ErrorBody,
      503: ErrorBody,
    },
  };
}

export const reportRoutes: FastifyPluginAsync<ReportRoutesOptions> = async (app, options) => {
  const { authenticator, metrics } = options;
  const staged = isStaged(authenticator) ? authenticator : null;
  app.decorateRequest('principal', null);
  app.decorateRequest('rejectReason', null);

  // Runs before the error handler answers a thrown or sent error (body, validation, a failing hook).
  app.addHook('onError', async (request, _reply, err) => {
    request.rejectReason ??= rejectReasonOf(errorStatus(err), err.code);
  });
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode < 400) return;
    metrics.reportsRejected.inc({
      reason: request.rejectReason ?? rejectReasonOf(reply.statusCode, undefined),
    });
  });

  app.post<{ Body: Report }>(
    REPORTS_PATH,
    {
      schema: reportSchema(options.bodyLimit),
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
    async (request, reply) => reply.code(202).send(ingest(options, request.body)),
  );
};

function reject(
  request: FastifyRequest,
  reply: FastifyReply,
  status: 401 | 403 | 503,
  reason: string,
  retryAfterSeconds = 5,
): FastifyReply {
  request.rejectReason = status === 401 ? 'auth' : status === 403 ? 'forbidden' : 'unavailable';
  request.log.info({ status, reason }, 'report rejected');
  if (status === 401) reply.header('www-authenticate', 'Bearer');
  if (status === 503) reply.header('retry-after', String(retryAfterSeconds));
  return reply.code(status).send(errorBody(status, reason));
}

/** Evaluates the report, or reuses the node's previous result when nothing it was computed from changed. */
function ingest(options: ReportRoutesOptions, body: Report): Static<typeof ReportAccepted> {
  const { evaluator, store, metrics } = options;
  let report = body;
  const labels = options.cluster?.labelsOf(report.node);
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
  return {
    node: view.name,
    role: view.role,
    verdict: view.verdict,
    failingChecks: failingCheckIds(view.result.checks),
    evaluatedAt: result.evaluatedAt,
  };
}
