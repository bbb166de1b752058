// Heartbeats recognised without parsing. An agent's report between changes is its last one with a new
// `collectedAt`: the same bytes but for that one value. For such a body the JSON parse and the deep compare
// of the facts with the node's last report are the largest costs of ingest, and both give a known answer:
// the last accepted report with the new `collectedAt`. So each accepted body's shape is remembered — a
// SHA-256 of everything but the `collectedAt` value, and where that value starts — and a body with the same
// digest becomes that report, reusing its (already validated) objects.
//
// Why this is exact: a remembered body has no backslash (no escapes, so every key is written literally) and
// exactly one `"collectedAt"`, which is therefore the top-level key; a body whose text before and after that
// value hashes the same is the same JSON text with another value in that one place. The new value must be
// plain characters (no quote, backslash or control character), so the text is valid JSON and parses to the
// remembered report with that value. The route still validates the result against the schema (the value's
// date-time format included) and still authorises `node`, exactly as for a parsed body.
import { hash } from 'node:crypto';
import type { Report } from '../../report/schema.js';

const VALUE_KEY = '"collectedAt":"';
const NODE_KEY = '"node":"';
/** What a date-time can be made of (the schema's format check, which still runs, decides the rest). */
const PLAIN_VALUE = /^[0-9A-Za-z:.+-]{1,64}$/;
/** Nodes remembered at most when the store has no --max-nodes (Kubernetes mode); else --max-nodes. */
export const DEFAULT_HEARTBEAT_NODES = 50_000;

interface Shape {
  /** Where the `collectedAt` value starts. */
  valueAt: number;
  digest: string;
  report: Report;
}

export class HeartbeatBodies {
  private readonly shapes = new Map<string, Shape>();

  constructor(private readonly maxNodes: number = DEFAULT_HEARTBEAT_NODES) {}

  /** After `raw` was parsed, validated and accepted, stored as `report` (its node's latest). */
  remember(raw: string, report: Report): void {
    const shape = shapeOf(raw, report);
    this.shapes.delete(report.node);
    if (shape === null) return;
    if (this.shapes.size >= this.maxNodes) {
      const oldest = this.shapes.keys().next().value;
      if (oldest !== undefined) this.shapes.delete(oldest);
    }
    this.shapes.set(report.node, shape);
  }

  /** The report `raw` parses to, when it is a remembered body with another `collectedAt`; else undefined. */
  recognise(raw: string): Report | undefined {
    const nodeAt = raw.indexOf(NODE_KEY);
    if (nodeAt < 0) return undefined;
    const nameAt = nodeAt + NODE_KEY.length;
    const shape = this.shapes.get(raw.slice(nameAt, raw.indexOf('"', nameAt)));
    if (shape === undefined) return undefined;
    const end = raw.indexOf('"', shape.valueAt);
    if (end < 0) return undefined;
    const value = raw.slice(shape.valueAt, end);
    if (!PLAIN_VALUE.test(value) || digestOf(raw, shape.valueAt, end) !== shape.digest) return undefined;
    return { ...shape.report, collectedAt: value };
  }

  get size(): number {
    return this.shapes.size;
  }
}

function shapeOf(raw: string, report: Report): Shape | null {
  if (raw.includes('\\')) return null;
  const keyAt = raw.indexOf(VALUE_KEY);
  if (keyAt < 0 || raw.indexOf('"collectedAt"') !== keyAt || raw.indexOf('"collectedAt"', keyAt + 1) >= 0) {
    return null;
  }
  const valueAt = keyAt + VALUE_KEY.length;
  const end = valueAt + report.collectedAt.length;
  if (raw.slice(valueAt, end) !== report.collectedAt || raw[end] !== '"') return null;
  return { valueAt, digest: digestOf(raw, valueAt, end), report };
}

/** SHA-256 of the text before `from` and from `to` on (the value's place is fixed by `from`). */
function digestOf(raw: string, from: number, to: number): string {
  return hash('sha256', raw.slice(0, from) + raw.slice(to), 'base64');
}
