// GET /api/v1/nodes (every known node, filtered) and GET /api/v1/nodes/{name} (one node's latest report
// and evaluation, and with Kubernetes the changes planned or applied for it).
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { NodeResult, ROLES, RoleSchema } from '../../../report/schema.js';
import { failingCheckIds } from '../../../spec/failing-checks.js';
import type { KubernetesIntegration, NodeClusterStatus } from '../../contracts.js';
import type { NodeStore } from '../../store.js';
import { errorBody } from '../errors.js';
import { ErrorBody, FailingChecks, NODE_VERDICTS, NodeName, NodeVerdictSchema } from '../schemas.js';
import { HeldTransitionSchema } from './guard.js';

export interface NodeRoutesOptions {
  store: NodeStore;
  /** Source of a node's planned changes; null when standalone. */
  kubernetes: Pick<KubernetesIntegration, 'changes' | 'nodeStatus'> | null;
}

const NodeListItem = Type.Object({
  name: Type.String(),
  role: RoleSchema,
  /** `unknown` when stale. */
  verdict: NodeVerdictSchema,
  failingChecks: FailingChecks,
  /**
   * null for a node we manage that has not reported since the aggregator started and whose condition has
   * no heartbeat; it is listed once its deadline passed, stale with verdict unknown.
   */
  lastReportAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  stale: Type.Boolean(),
  /** Why the verdict is `unknown`: `never reported`, `stale since …`. */
  reason: Type.Optional(Type.String()),
});

const NodeListQuery = Type.Object(
  {
    verdict: Type.Optional(NodeVerdictSchema),
    role: Type.Optional(RoleSchema),
    stale: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
  },
  { additionalProperties: false },
);

const NodeList = Type.Object({ nodes: Type.Array(NodeListItem), total: Type.Integer() });

const PlannedChangeSchema = Type.Object({
  node: Type.String(),
  kind: Type.Union([Type.Literal('node-patch'), Type.Literal('status-patch'), Type.Literal('event')]),
  summary: Type.String(),
  body: Type.Unknown(),
  applied: Type.Boolean(),
  at: Type.String(),
});

const NodeDetail = Type.Object(
  {
    ...NodeResult.properties,
    verdict: NodeVerdictSchema,
    /** The verdict of the latest evaluation, also while stale. */
    evaluatedVerdict: NodeResult.properties.verdict,
    stale: Type.Boolean(),
    lastReportAt: Type.String({ format: 'date-time' }),
    plannedChanges: Type.Optional(Type.Array(PlannedChangeSchema)),
    /** The transition the mass-change guard holds for this node, or null. */
    heldTransition: Type.Optional(Type.Union([HeldTransitionSchema, Type.Null()])),
    /** Labels and taints with our keys that we did not write: left as they are. */
    foreign: Type.Optional(
      Type.Object({ labels: Type.Array(Type.String()), taints: Type.Array(Type.String()) }),
    ),
  },
  { additionalProperties: true },
);

const NodeParams = Type.Object({ name: NodeName });

export const nodeRoutes: FastifyPluginAsync<NodeRoutesOptions> = async (app, { store, kubernetes }) => {
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
    async (request) => listNodes(store, request.query),
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
      if (kubernetes) {
        detail['plannedChanges'] = kubernetes.changes(view.name);
        Object.assign(detail, clusterDetail(kubernetes.nodeStatus(view.name)));
      }
      return detail;
    },
  );
};

/** Reported nodes and every other node of the cluster, filtered, sorted by name. */
function listNodes(store: NodeStore, query: Static<typeof NodeListQuery>): Static<typeof NodeList> {
  const { verdict, role, stale } = query;
  const reported = store.list().map((n) => ({
    name: n.name,
    role: n.role,
    verdict: n.verdict,
    failingChecks: failingCheckIds(n.result.checks),
    lastReportAt: n.lastReportAt as string | null,
    stale: n.stale,
    ...(n.stale ? { reason: `stale since ${n.lastReportAt}` } : {}),
  }));
  // Every other node of the cluster (from the informer): verdict unknown, with the reason.
  const unreported = store.unreportedNodes().map((n) => ({ ...n, failingChecks: [] as string[] }));
  const nodes = [...reported, ...unreported]
    .filter(
      (n) =>
        (verdict === undefined || n.verdict === verdict) &&
        (role === undefined || n.role === role) &&
        (stale === undefined || n.stale === (stale === 'true')),
    )
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { nodes, total: nodes.length };
}

/** The Kubernetes side of a node as its detail shows it. */
function clusterDetail(status: NodeClusterStatus): Record<string, unknown> {
  return { heldTransition: status.held, foreign: status.foreign };
}
