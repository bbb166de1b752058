// JSON Patch (RFC 6902) with JSON Pointers (RFC 6901: `~1` is `/`, `~0` is `~`). A failed operation throws
// JsonPatchError; the server maps a malformed document to 400 and a failed application to 422, as the
// apiserver does.
import { clone, deepEqual, isObject, type JsonObject } from './json.js';

export class JsonPatchError extends Error {
  readonly malformed: boolean;
  constructor(message: string, malformed = false) {
    super(message);
    this.malformed = malformed;
  }
}

interface Operation {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
  hasValue: boolean;
}

function parseOps(patch: unknown): Operation[] {
  if (!Array.isArray(patch)) {
    throw new JsonPatchError('json: cannot unmarshal object into Go value of type jsonpatch.Patch', true);
  }
  return patch.map((raw) => {
    if (!isObject(raw)) throw new JsonPatchError('json patch operation must be an object', true);
    const op = typeof raw['op'] === 'string' ? raw['op'] : '';
    const path = typeof raw['path'] === 'string' ? raw['path'] : '';
    const from = typeof raw['from'] === 'string' ? raw['from'] : undefined;
    return {
      op,
      path,
      ...(from !== undefined ? { from } : {}),
      value: raw['value'],
      hasValue: 'value' in raw,
    };
  });
}

export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new JsonPatchError(`invalid JSON pointer "${pointer}"`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

type Container = JsonObject | unknown[];

/** The parent container of the pointer's last token, and that token. */
function locate(doc: unknown, tokens: string[], pointer: string): { parent: Container; key: string } {
  let cur: unknown = doc;
  for (let i = 0; i < tokens.length - 1; i++) {
    const t = tokens[i]!;
    if (Array.isArray(cur)) {
      const idx = arrayIndex(t, cur.length, false, pointer);
      cur = cur[idx];
    } else if (isObject(cur)) {
      if (!(t in cur)) throw new JsonPatchError(`doc is missing path: "${pointer}": missing value`);
      cur = cur[t];
    } else {
      throw new JsonPatchError(`doc is missing path: "${pointer}": missing value`);
    }
  }
  if (!Array.isArray(cur) && !isObject(cur)) {
    throw new JsonPatchError(`doc is missing path: "${pointer}": missing value`);
  }
  return { parent: cur, key: tokens[tokens.length - 1]! };
}

function arrayIndex(token: string, length: number, forAdd: boolean, pointer: string): number {
  if (forAdd && token === '-') return length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new JsonPatchError(`invalid array index in "${pointer}"`);
  const idx = Number(token);
  if (idx > length || (!forAdd && idx === length)) {
    throw new JsonPatchError(`unable to access invalid index: ${idx}: invalid index referenced`);
  }
  return idx;
}

function getAt(doc: unknown, pointer: string): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return doc;
  const { parent, key } = locate(doc, tokens, pointer);
  if (Array.isArray(parent)) return parent[arrayIndex(key, parent.length, false, pointer)];
  if (!(key in parent)) throw new JsonPatchError(`doc is missing path: "${pointer}": missing value`);
  return parent[key];
}

function removeAt(doc: unknown, pointer: string): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw new JsonPatchError('cannot remove the whole document');
  const { parent, key } = locate(doc, tokens, pointer);
  if (Array.isArray(parent)) {
    const idx = arrayIndex(key, parent.length, false, pointer);
    return parent.splice(idx, 1)[0];
  }
  if (!(key in parent)) throw new JsonPatchError(`Unable to remove nonexistent key: ${key}: missing value`);
  const old = parent[key];
  delete parent[key];
  return old;
}

function addAt(doc: unknown, pointer: string, value: unknown): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return value;
  const { parent, key } = locate(doc, tokens, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(key, parent.length, true, pointer), 0, value);
  else parent[key] = value;
  return doc;
}

function replaceAt(doc: unknown, pointer: string, value: unknown): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return value;
  const { parent, key } = locate(doc, tokens, pointer);
  if (Array.isArray(parent)) parent[arrayIndex(key, parent.length, false, pointer)] = value;
  else {
    if (!(key in parent))
      throw new JsonPatchError(
        `replace operation does not apply: doc is missing key: ${pointer}: missing value`,
      );
    parent[key] = value;
  }
  return doc;
}

/** Applies the patch to a copy of `doc`; atomic: on error nothing is returned. */
export function applyJsonPatch(doc: unknown, patch: unknown): unknown {
  const ops = parseOps(patch);
  let out = clone(doc);
  for (const op of ops) {
    switch (op.op) {
      case 'add':
        if (!op.hasValue) throw new JsonPatchError('add operation missing value');
        out = addAt(out, op.path, clone(op.value));
        break;
      case 'remove':
        removeAt(out, op.path);
        break;
      case 'replace':
        if (!op.hasValue) throw new JsonPatchError('replace operation missing value');
        out = replaceAt(out, op.path, clone(op.value));
        break;
      case 'move': {
        if (op.from === undefined) throw new JsonPatchError('move operation missing from');
        const v = removeAt(out, op.from);
        out = addAt(out, op.path, v);
        break;
      }
      case 'copy': {
        if (op.from === undefined) throw new JsonPatchError('copy operation missing from');
        out = addAt(out, op.path, clone(getAt(out, op.from)));
        break;
      }
      case 'test': {
        let actual: unknown;
        try {
          actual = getAt(out, op.path);
        } catch {
          actual = undefined;
        }
        if (actual === undefined && op.value === null) break;
        if (!deepEqual(actual, op.value)) {
          throw new JsonPatchError(`testing value ${op.path} failed: test failed`);
        }
        break;
      }
      default:
        throw new JsonPatchError(`Unexpected kind: ${op.op}`);
    }
  }
  return out;
}
