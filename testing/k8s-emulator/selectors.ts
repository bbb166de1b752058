// Label selectors (`a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x,y)`) and a small field
// selector (`path.to.field=value`, `==`, `!=`, on any dotted path, e.g. `metadata.name`, `spec.nodeName`).

import { isObject, type JsonObject } from './json.js';
import { badRequest } from './status.js';

export type Matcher = (obj: JsonObject) => boolean;

function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

function labelsOf(obj: JsonObject): Record<string, unknown> {
  const meta = obj['metadata'];
  const labels = isObject(meta) ? meta['labels'] : undefined;
  return isObject(labels) ? labels : {};
}

export function parseLabelSelector(selector: string | undefined): Matcher | null {
  if (!selector || selector.trim() === '') return null;
  const reqs: Matcher[] = splitTopLevel(selector).map((req) => {
    let m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(req);
    if (m) {
      const key = m[1]!;
      const values = new Set(m[3]!.split(',').map((v) => v.trim()));
      if (m[2] === 'in') return (o) => values.has(String(labelsOf(o)[key] ?? '\u0000'));
      return (o) => {
        const v = labelsOf(o)[key];
        return v === undefined || !values.has(String(v));
      };
    }
    m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(req);
    if (m) {
      const key = m[1]!;
      const value = m[3]!;
      if (m[2] === '!=') return (o) => labelsOf(o)[key] !== value;
      return (o) => labelsOf(o)[key] === value;
    }
    m = /^(!?)([^!=\s(),]+)$/.exec(req);
    if (m) {
      const key = m[2]!;
      return m[1] ? (o) => !(key in labelsOf(o)) : (o) => key in labelsOf(o);
    }
    throw badRequest(`unable to parse requirement: ${req}`);
  });
  return (o) => reqs.every((r) => r(o));
}

function fieldAt(obj: JsonObject, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) cur = isObject(cur) ? cur[part] : undefined;
  if (cur === undefined || cur === null) return '';
  return String(cur);
}

export function parseFieldSelector(selector: string | undefined): Matcher | null {
  if (!selector || selector.trim() === '') return null;
  const reqs: Matcher[] = splitTopLevel(selector).map((req) => {
    const m = /^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/.exec(req);
    if (!m) throw badRequest(`invalid field selector: ${req}`);
    const path = m[1]!;
    const value = m[3]!.trim();
    return m[2] === '!=' ? (o) => fieldAt(o, path) !== value : (o) => fieldAt(o, path) === value;
  });
  return (o) => reqs.every((r) => r(o));
}
