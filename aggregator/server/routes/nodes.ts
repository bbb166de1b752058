// GET /api/v1/nodes (every known node, filtered) and GET /api/v1/nodes/{name} (one node's latest report
// and evaluation, and with Kubernetes the changes planned or applied for it).
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { NodeResult, ROLES } from '../../../report/schema.js';
import type { KubernetesIntegration, NodeClusterStatus } from '../../contracts.js';
import type { NodeStore } from '../../store.js';
import { errorBody } from '../errors.js';
import {
  ErrorBody,
  errorResponse,
  NODE_VERDICTS,
  NodeName,
  NodeVerdictSchema,
  StringEnum,
} from '../schemas.js';
import { HeldTransitionSchema } from './guard.js';
import { listNodes, NodeList, NodeListQuery, WrittenSchema, writtenOf } from './node-list.js';

export interface NodeRoutesOptions {
  store: NodeStore;
  /** Source of a node's planned changes, of what is written on it and of any held transition; null when standalone. */
  kubernetes: Pick<KubernetesIntegration, 'changes' | 'written' | 'nodeStatus'> | null;
}

const PlannedChangeSchema = Type.Object({
  node: Type.String(),
  kind: StringEnum(['node-patch', 'status-patch', 'event'] as const),
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
    written: WrittenSchema,
    /** The node's verdict transitions this process saw, oldest first (bounded, memory only). */
    history: Type.Array(
      Type.Object({
        at: Type.String({ format: 'date-time' }),
        from: Type.Union([NodeVerdictSchema, Type.Null()]),
        to: NodeVerdictSchema,
      }),
    ),
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
        description:
          `Filters: verdict (${NODE_VERDICTS.join(', ')}), role (${ROLES.join(', ')}), stale (true, false), ` +
          "check (a check id: the nodes failing it, each with that check's status, observed and expected).",
        querystring: NodeListQuery,
        response: { 200: NodeList, 400: ErrorBody },
      },
    },
    async (request) => listNodes(store, kubernetes, request.query),
  );

  app.get<{ Params: Static<typeof NodeParams> }>(
    '/api/v1/nodes/:name',
    {
      schema: {
        summary: "One node's latest report and evaluation",
        description: 'The evaluation result; `verdict` is `unknown` while the node is stale.',
        params: NodeParams,
        response: {
          200: NodeDetail,
          400: errorResponse('`name` is not a node name (a DNS-1123 subdomain); the message says why'),
          404: errorResponse('No report received from a node of that name'),
        },
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
        written: writtenOf(kubernetes, view.name),
        history: store.history(view.name),
      };
      if (kubernetes) {
        detail['plannedChanges'] = kubernetes.changes(view.name);
        Object.assign(detail, clusterDetail(kubernetes.nodeStatus(view.name)));
      }
      return detail;
    },
  );
};

/** The Kubernetes side of a node as its detail shows it. */
function clusterDetail(status: NodeClusterStatus): Record<string, unknown> {
  return { heldTransition: status.held, foreign: status.foreign };
}
