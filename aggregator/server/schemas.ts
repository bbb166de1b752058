// Schema pieces shared by several routes (typebox = JSON Schema). Each route's own request and response
// schemas live next to it in routes/*.ts; the report body is report/schema.ts's `Report`, nothing else.
import { Type } from '@sinclair/typebox';
import { NodeNameSchema, ROLES, VERDICTS } from '../../report/schema.js';

/**
 * One of these strings as JSON Schema's `enum`, not typebox's anyOf of consts: a response serialiser
 * (fast-json-stringify) runs an ajv validation of each anyOf branch to choose one, for every field of every
 * response, and writes an enum as the string it is. The error formatter (errors.ts) words both alike.
 */
export function StringEnum<T extends string>(values: readonly T[]) {
  return Type.Unsafe<T>({ type: 'string', enum: [...values] });
}

export const NODE_VERDICTS = [...VERDICTS, 'unknown'] as const;
export const NodeVerdictSchema = StringEnum(NODE_VERDICTS);
/** A node's role in the API's requests and responses (report/schema.ts's RoleSchema, as an enum). */
export const RoleEnum = StringEnum(ROLES);

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

/** Read-only: a node's failing ids are listed once and shared (spec/failing-checks.ts). */
export const FailingChecks = Type.Unsafe<readonly string[]>(
  Type.Array(Type.String(), { description: 'ids of the checks with status fail or error' }),
);

/** A node name in a path: the report's `node` schema (report/schema.ts), so a name no node can have is 400. */
export const NodeName = NodeNameSchema;
