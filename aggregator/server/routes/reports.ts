// POST /api/v1/reports: an agent's report. The token is checked before the body is read (two-step
// authenticators), the body is validated exactly as sent, the caller must be allowed to speak for
// `report.node`, the store must have room for it (--max-nodes, standalone), then the report is evaluated
// (or its previous result reused) and stored. Rejections are counted by reason here, by hooks that apply to
// this route only, and logged cheaply: each at debug, one summary of the counts by reason a minute at info
// (auth/refusal-log.ts), so a flood of bad reports does not flood the log.
import { STATUS_CODES } from 'node:http';
import { performance } from 'node:perf_hooks';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { formatDuration } from '../../../report/duration.js';
import { isDnsSubdomain } from '../../../report/grammars.js';
import { Report } from '../../../report/schema.js';
import { failingCheckIds } from '../../../spec/failing-checks.js';
import { formatBytes } from '../../../spec/quantity.js';
import { REFUSAL_SUMMARY_MS, RefusalLog } from '../../auth/refusal-log.js';
import { bearerToken, isStaged, type Principal } from '../../auth/staged.js';
import type { AgentAuthenticator, ClusterView } from '../../contracts.js';
import type { NodeStore } from '../../store.js';
import { errorBody, errorStatus, rejectReasonOf } from '../errors.js';
import type { ReportEvaluator } from '../evaluator.js';
import { DEFAULT_HEARTBEAT_NODES, HeartbeatBodies, validatingHeartbeats } from '../heartbeat-bodies.js';
import { jsonBodyParser } from '../json-body.js';
import type { AggregatorMetrics, RejectReason } from '../metrics.js';
import { ErrorBody, errorResponse, FailingChecks, NodeVerdictSchema, RoleEnum } from '../schemas.js';
import type { SchemaCompiler } from '../validation.js';

export const REPORTS_PATH = '/api/v1/reports';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the reports route's onRequest hook when the authenticator works in two steps. */
    principal: Principal | null;
    /** Why a report was rejected (metrics), when known more precisely than by status code. */
    rejectReason: RejectReason | null;
    /** What the client was told when a report was rejected (the debug line). */
    rejectMessage: string | null;
    /** The body when it was parsed (not a recognised heartbeat): remembered once accepted. */
    reportBody: Buffer | null;
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
  /** The window of the rejected reports' info summary; default a minute. */
  rejectionSummaryMs?: number | undefined;
  /** The server's schema compiler (validation.ts), which the route wraps for heartbeats. */
  compileSchema: SchemaCompiler;
}

const ReportAccepted = Type.Object({
  node: Type.String(),
  role: RoleEnum,
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
      403: errorResponse(
        'The token may not report for `node`; or, standalone, `node` is new and the aggregator already ' +
          'holds --max-nodes nodes (the message says what to do). Sending the same report again does not help.',
      ),
      413: ErrorBody,
      415: ErrorBody,
      503: errorResponse(
        'Try again later (Retry-After): the token cannot be checked now (the TokenReview budget, the API ' +
          "server, or the aggregator's --token-file is empty, missing or unreadable).",
      ),
    },
  };
}

export const reportRoutes: FastifyPluginAsync<ReportRoutesOptions> = async (app, options) => {
  const { authenticator, metrics } = options;
  const staged = isStaged(authenticator) ? authenticator : null;
  app.decorateRequest('principal', null);
  app.decorateRequest('rejectReason', null);
  app.decorateRequest('rejectMessage', null);
  app.decorateRequest('reportBody', null);
  const heartbeats = new HeartbeatBodies(options.store.maxNodes ?? DEFAULT_HEARTBEAT_NODES);
  recogniseHeartbeats(app, heartbeats);
  const refusals = new RefusalLog({
    logger: app.log,
    windowMs: options.rejectionSummaryMs ?? REFUSAL_SUMMARY_MS,
    messages: { each: 'report rejected', summary: 'reports rejected (summary)' },
  });
  // The last window's counts are not lost at shutdown.
  app.addHook('onClose', async () => refusals.flush());

  // Runs before the error handler answers a thrown or sent error (body, validation, a failing hook).
  app.addHook('onError', (request, _reply, err, done) => {
    const status = errorStatus(err);
    request.rejectReason ??= rejectReasonOf(status, err.code);
    request.rejectMessage ??= status >= 500 ? 'internal error' : err.message;
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    if (reply.statusCode >= 400) countRejection(request, reply.statusCode);
    done();
  });
  function countRejection(request: FastifyRequest, status: number): void {
    const reason = request.rejectReason ?? rejectReasonOf(status, undefined);
    metrics.reportsRejected.inc({ reason });
    const message = request.rejectMessage ?? STATUS_CODES[status] ?? 'rejected';
    const node = (request.body as { node?: unknown } | undefined)?.node;
    const known = typeof node === 'string' && isDnsSubdomain(node) ? { node } : {};
    refusals.refused(reason, status, message, { ...known, client: request.ip });
  }

  app.post<{ Body: Report }>(
    REPORTS_PATH,
    {
      schema: reportSchema(options.bodyLimit),
      // A recognised heartbeat is a validated report with a new collectedAt: only that is validated.
      validatorCompiler: validatingHeartbeats(options.compileSchema),
      // No per-request child logger (its bindings are built for every report): this route logs through
      // its refusal log, and the error handler's rare line needs no request id.
      childLoggerFactory: (logger) => logger,
      // Before the body is read: a missing or bad token costs no parsing. The hooks and the handler are
      // callback-style and wait only for an answer not known at once (a token not cached): a report of a
      // known token allocates no promise on its way through.
      onRequest: (request, reply, done) => {
        if (!staged) return done(); // a one-step authenticator runs in preHandler, once the node is known
        whenKnown(staged.identify(bearerToken(request.headers.authorization)), done, (id) => {
          if (!id.ok) reject(request, reply, id.status, id.reason, id.retryAfterSeconds);
          else {
            request.principal = id.principal;
            done();
          }
        });
      },
      // After validation: may this caller speak for report.node?
      preHandler: (request, reply, done) => {
        const node = request.body.node;
        const outcome = request.principal
          ? request.principal.authorize(node)
          : authenticator.authenticate(bearerToken(request.headers.authorization), node);
        whenKnown(outcome, done, (answer) => {
          if (!answer.ok) reject(request, reply, answer.status, answer.reason);
          else done();
        });
      },
    },
    (request, reply) => {
      // Checked and stored with no await between: concurrent new nodes cannot overshoot the cap.
      if (!options.store.admits(request.body.node)) refuseAtLimit(request, reply, options.store);
      else reply.code(202).send(ingest(options, request.body, request.reportBody, heartbeats));
    },
  );
};

/**
 * `then(value)` now when the value is known, else once its promise settles. A rejection, or a throw in
 * `then` after the wait, goes to `done` (fastify's error path), as a throw before it does through the hook.
 */
function whenKnown<T>(value: T | Promise<T>, done: (err?: Error) => void, then: (value: T) => void): void {
  if (value instanceof Promise) value.then(then).catch((err: Error) => done(err));
  else then(value);
}

/**
 * This route's JSON parser: a heartbeat (the node's last accepted body with a new `collectedAt`) becomes
 * that report without a parse (heartbeat-bodies.ts); anything else goes to the server's parser, and its
 * bytes are kept so that, once accepted, they are remembered. Validation and authorisation run either way.
 */
function recogniseHeartbeats(app: FastifyInstance, heartbeats: HeartbeatBodies): void {
  const parse = jsonBodyParser(app);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const bytes = body as Buffer;
    const known = heartbeats.recognise(bytes);
    if (known !== undefined) return done(null, known);
    request.reportBody = bytes;
    parse(request, bytes.toString('utf8'), done);
  });
}

/** A new node past --max-nodes: 403 (as Kubernetes refuses a create past a quota), saying what to do. */
function refuseAtLimit(request: FastifyRequest<{ Body: Report }>, reply: FastifyReply, store: NodeStore) {
  const max = store.maxNodes;
  const forget =
    store.forgetAfterMs === undefined
      ? ''
      : `, or wait until nodes silent for --forget-after (${formatDuration(store.forgetAfterMs)}) are forgotten`;
  const message =
    `node "${request.body.node}" is new and the aggregator already holds its --max-nodes ${max} nodes: ` +
    `raise --max-nodes on the aggregator${forget}; nodes it already holds keep reporting`;
  request.rejectReason = 'node-limit';
  request.rejectMessage = message;
  return reply.code(403).send(errorBody(403, message));
}

function reject(
  request: FastifyRequest,
  reply: FastifyReply,
  status: 401 | 403 | 503,
  reason: string,
  retryAfterSeconds = 5,
): FastifyReply {
  request.rejectReason = status === 401 ? 'auth' : status === 403 ? 'forbidden' : 'unavailable';
  request.rejectMessage = reason;
  if (status === 401) reply.header('www-authenticate', 'Bearer');
  if (status === 503) reply.header('retry-after', String(retryAfterSeconds));
  return reply.code(status).send(errorBody(status, reason));
}

/** Evaluates the report, or reuses the node's previous result when nothing it was computed from changed. */
function ingest(
  options: ReportRoutesOptions,
  body: Report,
  bytes: Buffer | null,
  heartbeats: HeartbeatBodies,
): Static<typeof ReportAccepted> {
  const { evaluator, store, metrics } = options;
  let report = body;
  const labels = options.cluster?.labelsOf(report.node);
  const previous = evaluator.reuse ? store.latest(report.node) : undefined;
  let result = previous ? evaluator.reuse?.(previous, report, labels) : undefined;
  if (previous && result) {
    // Same facts as last time: store the previous facts object (the result shares it), so a node keeps
    // one facts object and this request's parsed copy dies young (a recognised heartbeat has them already).
    const { facts, probeErrors } = previous.report;
    if (report.facts !== facts || report.probeErrors !== probeErrors)
      report = { ...report, facts, probeErrors };
  } else {
    const started = performance.now();
    result = evaluator.evaluate(report, labels);
    metrics.evaluationSeconds.observe((performance.now() - started) / 1000);
  }
  const view = store.accept(report, result);
  if (bytes !== null) heartbeats.remember(bytes, report);
  metrics.reportsAccepted.inc();
  return {
    node: view.name,
    role: view.role,
    verdict: view.verdict,
    failingChecks: failingCheckIds(view.result.checks),
    evaluatedAt: result.evaluatedAt,
  };
}
