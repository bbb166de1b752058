// Route schemas of the REST API (typebox = JSON Schema): request validation, response serialization and
// the OpenAPI document all come from these. The report body is report/schema.ts's `Report`, nothing else.
import { Type } from '@sinclair/typebox';
import { CheckResult, NodeResult, RoleSchema, VERDICTS } from '../../report/schema.js';

export const NODE_VERDICTS = [...VERDICTS, 'unknown'] as const;
export const NodeVerdictSchema = Type.Union(NODE_VERDICTS.map((v) => Type.Literal(v)));

export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    message: Type.String(),
  },
  { description: 'Every error response.' },
);

export const ReportAccepted = Type.Object({
  node: Type.String(),
  role: RoleSchema,
  verdict: NodeVerdictSchema,
  failingChecks: Type.Array(Type.String(), { description: 'ids of the checks with status fail or error' }),
  evaluatedAt: Type.String(),
});

export const NodeListItem = Type.Object({
  name: Type.String(),
  role: RoleSchema,
  /** `unknown` when stale. */
  verdict: NodeVerdictSchema,
  failingChecks: Type.Array(Type.String(), { description: 'ids of the checks with status fail or error' }),
  /**
   * null for a node we manage that has not reported since the aggregator started and whose condition has
   * no heartbeat; it is listed once its deadline passed, stale with verdict unknown.
   */
  lastReportAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  stale: Type.Boolean(),
});

export const NodeListQuery = Type.Object(
  {
    verdict: Type.Optional(NodeVerdictSchema),
    role: Type.Optional(RoleSchema),
    stale: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
  },
  { additionalProperties: false },
);

export const NodeList = Type.Object({ nodes: Type.Array(NodeListItem), total: Type.Integer() });

export const PlannedChangeSchema = Type.Object({
  node: Type.String(),
  kind: Type.Union([Type.Literal('node-patch'), Type.Literal('status-patch'), Type.Literal('event')]),
  summary: Type.String(),
  body: Type.Unknown(),
  applied: Type.Boolean(),
  at: Type.String(),
});

export const NodeDetail = Type.Object(
  {
    ...NodeResult.properties,
    verdict: NodeVerdictSchema,
    /** The verdict of the latest evaluation, also while stale. */
    evaluatedVerdict: NodeResult.properties.verdict,
    stale: Type.Boolean(),
    lastReportAt: Type.String({ format: 'date-time' }),
    plannedChanges: Type.Optional(Type.Array(PlannedChangeSchema)),
  },
  { additionalProperties: true },
);

export const NodeParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 253 }) });

const VerdictCounts = Type.Object({
  total: Type.Integer(),
  pass: Type.Integer(),
  warn: Type.Integer(),
  fail: Type.Integer(),
  unknown: Type.Integer(),
  stale: Type.Integer(),
});

export const Summary = Type.Object({
  total: Type.Integer(),
  stale: Type.Integer(),
  byVerdict: VerdictCounts,
  byRole: Type.Object({
    'control-plane': VerdictCounts,
    operator: VerdictCounts,
    compute: VerdictCounts,
    gpu: VerdictCounts,
    jetson: VerdictCounts,
  }),
  clusterChecks: Type.Array(CheckResult),
  generatedAt: Type.String({ format: 'date-time' }),
});

export const SpecBody = Type.Object({}, { additionalProperties: true, description: 'The spec in force.' });

export const Health = Type.Object({ status: Type.String() });
export const ReadinessBody = Type.Object({ status: Type.String(), reason: Type.Optional(Type.String()) });
