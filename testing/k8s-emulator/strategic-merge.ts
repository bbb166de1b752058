// Strategic merge patch, the subset Kubernetes uses for the objects the validator touches. Maps merge
// recursively and `null` deletes a key (as in a merge patch); lists are REPLACED unless the field carries a
// merge key in the Go type (e.g. Node `status.conditions` merges by `type`; `spec.taints` has none, so a
// taints list replaces the whole list). Directives: `$patch: replace|delete` on maps and list elements,
// `$deleteFromPrimitiveList/<field>`; `$setElementOrder/…` and `$retainKeys` are accepted and ignored.
import { clone, deepEqual, isObject, type JsonObject } from './json.js';

/** Field path (dotted, list elements not indexed) → merge key; '' means a list of scalars merged as a set. */
export type MergeKeys = Readonly<Record<string, string>>;

export const COMMON_MERGE_KEYS: MergeKeys = {
  'metadata.ownerReferences': 'uid',
  'metadata.finalizers': '',
};

/** From k8s.io/api/core/v1 types.go: the only Node lists with a patch strategy. */
export const NODE_MERGE_KEYS: MergeKeys = {
  ...COMMON_MERGE_KEYS,
  'spec.podCIDRs': '',
  'status.conditions': 'type',
  'status.addresses': 'type',
};

const DELETE = Symbol('delete');

export class StrategicMergeError extends Error {}

export function applyStrategicMergePatch(original: unknown, patch: unknown, keys: MergeKeys): unknown {
  if (!isObject(patch)) throw new StrategicMergeError('a strategic merge patch must be a JSON object');
  const out = mergeMap(original, patch, '', keys);
  return out === DELETE ? {} : out;
}

function mergeMap(original: unknown, patch: JsonObject, path: string, keys: MergeKeys): unknown {
  const directive = patch['$patch'];
  if (directive === 'delete') return DELETE;
  if (directive === 'replace') return stripDirectives(patch);
  if (directive !== undefined && directive !== 'merge') {
    throw new StrategicMergeError(`Unknown patch type: ${String(directive)}`);
  }
  const out: JsonObject = isObject(original) ? { ...original } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const field = key.slice('$deleteFromPrimitiveList/'.length);
      const cur = out[field];
      if (Array.isArray(cur) && Array.isArray(value)) {
        out[field] = cur.filter((v) => !value.some((d) => deepEqual(d, v)));
      }
      continue;
    }
    if (key.startsWith('$')) continue; // $setElementOrder/…, $retainKeys, $patch
    const childPath = path ? `${path}.${key}` : key;
    if (value === null) {
      delete out[key];
    } else if (Array.isArray(value)) {
      const mergeKey = keys[childPath];
      out[key] =
        mergeKey === undefined
          ? replaceList(value, childPath, keys)
          : mergeList(out[key], value, mergeKey, childPath, keys);
    } else if (isObject(value)) {
      const merged = mergeMap(out[key], value, childPath, keys);
      if (merged === DELETE) delete out[key];
      else out[key] = merged;
    } else {
      out[key] = value;
    }
  }
  return out;
}

function replaceList(value: unknown[], path: string, keys: MergeKeys): unknown[] {
  return value
    .filter((e) => !(isObject(e) && e['$patch'] !== undefined && Object.keys(e).length === 1))
    .map((e) => (isObject(e) ? stripNulls(mergeMap(undefined, e, path, keys)) : clone(e)));
}

function mergeList(
  original: unknown,
  patch: unknown[],
  mergeKey: string,
  path: string,
  keys: MergeKeys,
): unknown[] {
  if (patch.some((e) => isObject(e) && e['$patch'] === 'replace')) return replaceList(patch, path, keys);
  const out: unknown[] = Array.isArray(original) ? original.slice() : [];
  if (mergeKey === '') {
    for (const v of patch) if (!out.some((o) => deepEqual(o, v))) out.push(clone(v));
    return out;
  }
  for (const element of patch) {
    if (!isObject(element)) throw new StrategicMergeError(`${path}: list element is not an object`);
    const id = element[mergeKey];
    if (id === undefined) throw new StrategicMergeError(`${path}: element has no merge key "${mergeKey}"`);
    const idx = out.findIndex((o) => isObject(o) && deepEqual(o[mergeKey], id));
    if (element['$patch'] === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    const merged = mergeMap(idx >= 0 ? out[idx] : undefined, element, path, keys);
    if (merged === DELETE) {
      if (idx >= 0) out.splice(idx, 1);
    } else if (idx >= 0) out[idx] = merged;
    else out.push(stripNulls(merged));
  }
  return out;
}

function stripDirectives(v: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, val] of Object.entries(v)) if (!k.startsWith('$')) out[k] = clone(val);
  return out;
}

function stripNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripNulls);
  if (!isObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, val] of Object.entries(v)) if (val !== null) out[k] = stripNulls(val);
  return out;
}
