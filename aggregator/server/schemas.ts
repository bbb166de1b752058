// Schema pieces shared by several routes (typebox = JSON Schema). Each route's own request and response
// schemas live next to it in routes/*.ts; the report body is report/schema.ts's `Report`, nothing else.
import { Type } from '@sinclair/typebox';
import { NodeNameSchema, VERDICTS } from '../../report/schema.js';

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

/** The error document as one status's response, described: what that status means on that route. */
export function errorResponse(description: string): typeof ErrorBody {
  return { ...ErrorBody, description };
}

export const FailingChecks = Type.Array(Type.String(), {
  description: 'ids of the checks with status fail or error',
});

/** A node name in a path: the report's `node` schema (report/schema.ts), so a name no node can have is 400. */
export const NodeName = NodeNameSchema;
