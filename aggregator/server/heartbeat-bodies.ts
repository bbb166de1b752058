// Heartbeats recognised without parsing. An agent's report between changes is its last one with a new
// `collectedAt`: the same bytes but for that one value. For such a body the JSON parse and the deep compare
// of the facts with the node's last report are the largest costs of ingest, and both give a known answer:
// the last accepted report with the new `collectedAt`. So each accepted body's shape is remembered — a
// SHA-256 of everything but the `collectedAt` value, and where that value starts — and a body with the same
// digest becomes that report, reusing its (already validated) objects.
//
// Why this is exact: a remembered body has no backslash (no escapes, so every key is written literally) and
// exactly one `"collectedAt"`, which is therefore the top-level key; a body whose bytes before and after that
// value hash the same is the same JSON text with another value in that one place. The new value must be
// plain characters (no quote, backslash or control character), so the text is valid JSON and parses to the
// remembered report with that value. The route still validates the result against the schema (the value's
// date-time format included: validatingHeartbeats below) and still authorises `node`, as for a parsed body.
import { createHash } from 'node:crypto';
import type { FastifySchemaValidationError } from 'fastify';
import { Report } from '../../report/schema.js';
import type { SchemaCompiler } from './validation.js';

const VALUE_KEY = Buffer.from('"collectedAt":"');
const KEY = Buffer.from('"collectedAt"');
const NODE_KEY = Buffer.from('"node":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** What a date-time can be made of (the schema's format check, which still runs, decides the rest). */
const PLAIN_VALUE = /^[0-9A-Za-z:.+-]{1,64}$/;
/** Nodes remembered at most when the store has no --max-nodes (Kubernetes mode); else --max-nodes. */
export const DEFAULT_HEARTBEAT_NODES = 50_000;

interface Shape {
  /** Where the `collectedAt` value starts (a byte offset). */
  valueAt: number;
  digest: string;
  report: Report;
}

/** Bodies are the request's bytes: a heartbeat is recognised without decoding it to a string. */
export class HeartbeatBodies {
  private readonly shapes = new Map<string, Shape>();

  constructor(private readonly maxNodes: number = DEFAULT_HEARTBEAT_NODES) {}

  /** After `body` was parsed, validated and accepted, stored as `report` (its node's latest). */
  remember(body: Buffer, report: Report): void {
    const shape = shapeOf(body, report);
    this.shapes.delete(report.node);
    if (shape === null) return;
    if (this.shapes.size >= this.maxNodes) {
      const oldest = this.shapes.keys().next().value;
      if (oldest !== undefined) this.shapes.delete(oldest);
    }
    this.shapes.set(report.node, shape);
  }

  /**
   * The report `body` parses to, when it is a remembered body with another `collectedAt`; else undefined.
   * Frozen: the reports route's validator knows it by that (validatingHeartbeats).
   */
  recognise(body: Buffer): Readonly<Report> | undefined {
    const nodeAt = body.indexOf(NODE_KEY);
    if (nodeAt < 0) return undefined;
    const nameAt = nodeAt + NODE_KEY.length;
    const nameEnd = body.indexOf(QUOTE, nameAt);
    if (nameEnd < 0) return undefined;
    // Node names are ASCII (a DNS subdomain): any other bytes name no remembered node.
    const shape = this.shapes.get(body.toString('latin1', nameAt, nameEnd));
    if (shape === undefined) return undefined;
    const end = body.indexOf(QUOTE, shape.valueAt);
    if (end < 0) return undefined;
    // A string of its own (not a slice of the body's text, which the stored report would then keep).
    const value = body.toString('latin1', shape.valueAt, end);
    if (!PLAIN_VALUE.test(value) || digestOf(body, shape.valueAt, end) !== shape.digest) return undefined;
    return Object.freeze({ ...shape.report, collectedAt: value });
  }

  get size(): number {
    return this.shapes.size;
  }
}

/** Whether `body` is what recognise() returned: the only frozen request bodies (JSON.parse makes none). */
export function isRecognisedHeartbeat(body: unknown): body is Readonly<Report> {
  return typeof body === 'object' && body !== null && Object.isFrozen(body);
}

/**
 * The reports route's schema compiler: `compile`'s validators, except that the body of a recognised
 * heartbeat (its remembered report was validated when it was parsed) has only its new `collectedAt`
 * validated; if that fails, the whole body is, so the error is the one a parsed body would get.
 */
export function validatingHeartbeats(compile: SchemaCompiler): SchemaCompiler {
  return (route) => {
    const full = compile(route) as Validator;
    if (route.httpPart !== 'body') return full;
    const collectedAt = compile({ ...route, schema: Report.properties.collectedAt }) as Validator;
    const validate: Validator = (data) => {
      if (isRecognisedHeartbeat(data) && collectedAt(data.collectedAt) === true) return true;
      const valid = full(data);
      validate.errors = full.errors;
      return valid;
    };
    return validate;
  };
}

type Validator = ((data: unknown) => boolean) & { errors?: FastifySchemaValidationError[] | null };

function shapeOf(body: Buffer, report: Report): Shape | null {
  if (body.includes(BACKSLASH)) return null;
  const keyAt = body.indexOf(VALUE_KEY);
  if (keyAt < 0 || body.indexOf(KEY) !== keyAt || body.indexOf(KEY, keyAt + 1) >= 0) return null;
  const valueAt = keyAt + VALUE_KEY.length;
  const end = valueAt + Buffer.byteLength(report.collectedAt);
  if (body.toString('latin1', valueAt, end) !== report.collectedAt || body[end] !== QUOTE) return null;
  return { valueAt, digest: digestOf(body, valueAt, end), report };
}

/** SHA-256 of the bytes before `from` and from `to` on (the value's place is fixed by `from`). */
function digestOf(body: Buffer, from: number, to: number): string {
  return createHash('sha256').update(body.subarray(0, from)).update(body.subarray(to)).digest('base64');
}
