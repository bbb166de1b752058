// The write and read verbs on one Store, with the apiserver's rules: preconditions on resourceVersion,
// status subresource separation, no-op writes that bump nothing, identity fields that cannot change.

import { clone, deepEqual, isObject, type JsonObject, metaOf, str } from './json.js';
import { applyJsonPatch, JsonPatchError } from './json-patch.js';
import { applyMergePatch } from './merge-patch.js';
import { groupResource } from './resources.js';
import type { Matcher } from './selectors.js';
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  notFound,
  patchApplyFailed,
  status as statusBody,
} from './status.js';
import type { Store } from './store.js';
import { applyStrategicMergePatch, StrategicMergeError } from './strategic-merge.js';

export const PATCH_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
] as const;

export interface WriteResult {
  obj: JsonObject;
  /** False when the write changed nothing (no new resourceVersion, no watch event). */
  changed: boolean;
}

function gr(store: Store): [string, string] {
  return [store.def.plural, store.def.group];
}

function missing(store: Store, name: string): ApiError {
  return notFound(...withName(store, name));
}

function withName(store: Store, name: string): [string, string, string] {
  const [plural, group] = gr(store);
  return [plural, name, group];
}

/** Keeps what a client cannot change: identity and system metadata. */
function restoreIdentity(next: JsonObject, current: JsonObject): void {
  const meta = metaOf(next);
  const cur = metaOf(current);
  for (const k of ['name', 'namespace', 'uid', 'creationTimestamp', 'generateName'] as const) {
    if (cur[k] === undefined) delete meta[k];
    else meta[k] = cur[k];
  }
  next['apiVersion'] = current['apiVersion'];
  next['kind'] = current['kind'];
}

/** Status subresource rules: the main resource keeps the stored status; `/status` changes only status. */
function applySubresource(
  store: Store,
  next: JsonObject,
  current: JsonObject,
  subresource: string | undefined,
): JsonObject {
  if (!store.def.hasStatus) return next;
  if (subresource === 'status') {
    const out = clone(current);
    if (next['status'] === undefined) delete out['status'];
    else out['status'] = next['status'];
    const rv = metaOf(next)['resourceVersion'];
    if (rv === undefined) delete metaOf(out)['resourceVersion'];
    else metaOf(out)['resourceVersion'] = rv;
    return out;
  }
  if (current['status'] === undefined) delete next['status'];
  else next['status'] = clone(current['status']);
  return next;
}

function checkPrecondition(store: Store, next: JsonObject, current: JsonObject, name: string): void {
  const wanted = str(metaOf(next)['resourceVersion']);
  if (wanted && wanted !== metaOf(current)['resourceVersion']) throw conflict(...withName(store, name));
}

/** Writes `next` unless it equals `current` apart from resourceVersion. */
function commit(store: Store, next: JsonObject, current: JsonObject, dryRun: boolean): WriteResult {
  metaOf(next)['resourceVersion'] = metaOf(current)['resourceVersion'];
  if (deepEqual(next, current)) return { obj: current, changed: false };
  if (dryRun) return { obj: next, changed: false };
  return { obj: store.write(next), changed: true };
}

export function createObject(
  store: Store,
  namespace: string | undefined,
  body: unknown,
  dryRun: boolean,
): JsonObject {
  if (!isObject(body)) throw badRequest('the request body must be a JSON object');
  const obj = clone(body);
  const meta = metaOf(obj);
  if (store.def.namespaced) {
    if (meta['namespace'] !== undefined && meta['namespace'] !== '' && meta['namespace'] !== namespace) {
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    meta['namespace'] = namespace;
  } else {
    delete meta['namespace'];
  }
  if (!str(meta['name'])) {
    const prefix = str(meta['generateName']);
    if (!prefix) {
      throw new ApiError(
        statusBody(
          422,
          `${store.def.kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
          'Invalid',
        ),
      );
    }
    meta['name'] = prefix + Math.random().toString(36).slice(2, 7);
  }
  if (meta['resourceVersion']) {
    throw badRequest('resourceVersion should not be set on objects to be created');
  }
  const name = meta['name'] as string;
  if (store.get(namespace, name)) throw alreadyExists(...withName(store, name));
  delete meta['uid'];
  delete meta['creationTimestamp'];
  if (dryRun) return obj;
  return store.write(obj);
}

export function updateObject(
  store: Store,
  namespace: string | undefined,
  name: string,
  subresource: string | undefined,
  body: unknown,
  dryRun: boolean,
): WriteResult {
  if (!isObject(body)) throw badRequest('the request body must be a JSON object');
  const current = store.get(namespace, name);
  if (!current) throw missing(store, name);
  const bodyName = str(metaOf(body)['name']);
  if (bodyName !== undefined && bodyName !== name) {
    throw badRequest(`the name of the object (${bodyName}) does not match the name on the URL (${name})`);
  }
  let next = clone(body);
  checkPrecondition(store, next, current, name);
  next = applySubresource(store, next, current, subresource);
  restoreIdentity(next, current);
  return commit(store, next, current, dryRun);
}

export function patchObject(
  store: Store,
  namespace: string | undefined,
  name: string,
  subresource: string | undefined,
  contentType: string,
  patch: unknown,
  dryRun: boolean,
): WriteResult {
  const current = store.get(namespace, name);
  if (!current) throw missing(store, name);
  let patched: unknown;
  try {
    if (contentType === 'application/json-patch+json') patched = applyJsonPatch(current, patch);
    else if (contentType === 'application/merge-patch+json') {
      if (!isObject(patch)) throw badRequest('a merge patch must be a JSON object');
      patched = applyMergePatch(clone(current), patch);
    } else patched = applyStrategicMergePatch(clone(current), patch, store.def.mergeKeys);
  } catch (err) {
    if (err instanceof JsonPatchError)
      throw err.malformed ? badRequest(err.message) : patchApplyFailed(err.message);
    if (err instanceof StrategicMergeError) throw badRequest(err.message);
    throw err;
  }
  if (!isObject(patched)) throw badRequest('the patched object is not a JSON object');
  let next = clone(patched);
  checkPrecondition(store, next, current, name);
  next = applySubresource(store, next, current, subresource);
  restoreIdentity(next, current);
  return commit(store, next, current, dryRun);
}

export interface ListOptions {
  namespace: string | undefined;
  labels: Matcher | null;
  fields: Matcher | null;
  limit: number | undefined;
  continueToken: string | undefined;
}

/** The List document as JSON text, built from each object's cached serialization. */
export function listJson(store: Store, opts: ListOptions, resourceVersion: string): string {
  let entries = store.entries(opts.namespace);
  if (opts.labels || opts.fields) {
    entries = entries.filter(
      (e) => (!opts.labels || opts.labels(e.obj)) && (!opts.fields || opts.fields(e.obj)),
    );
  }
  let start = 0;
  if (opts.continueToken) {
    let after: string;
    try {
      const parsed: unknown = JSON.parse(Buffer.from(opts.continueToken, 'base64url').toString('utf8'));
      if (!isObject(parsed) || typeof parsed['after'] !== 'string') throw new Error('bad token');
      after = parsed['after'];
    } catch {
      throw badRequest('continue key is not valid: incorrect encoded start resourceVersion');
    }
    start = entries.findIndex((e) => keyOf(store, e.obj) > after);
    if (start < 0) start = entries.length;
  }
  const end = opts.limit && opts.limit > 0 ? Math.min(entries.length, start + opts.limit) : entries.length;
  const page = entries.slice(start, end);
  const metadata: JsonObject = { resourceVersion };
  if (end < entries.length) {
    const last = page[page.length - 1];
    metadata['continue'] = Buffer.from(
      JSON.stringify({ after: last ? keyOf(store, last.obj) : '' }),
    ).toString('base64url');
    metadata['remainingItemCount'] = entries.length - end;
  }
  const head = JSON.stringify({ kind: `${store.def.kind}List`, apiVersion: apiVersion(store), metadata });
  return `${head.slice(0, -1)},"items":[${page.map((e) => e.json).join(',')}]}`;
}

function apiVersion(store: Store): string {
  return store.def.group ? `${store.def.group}/${store.def.version}` : store.def.version;
}

function keyOf(store: Store, obj: JsonObject): string {
  const meta = metaOf(obj);
  const ns = store.def.namespaced ? str(meta['namespace']) : undefined;
  return ns ? `${ns}/${str(meta['name'])}` : (str(meta['name']) ?? '');
}

export function deleteObject(
  store: Store,
  namespace: string | undefined,
  name: string,
  dryRun: boolean,
): JsonObject {
  const current = store.get(namespace, name);
  if (!current) throw missing(store, name);
  const uid = metaOf(current)['uid'];
  if (!dryRun) store.delete(namespace, name);
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: { name, ...(store.def.group ? { group: store.def.group } : {}), kind: store.def.plural, uid },
  };
}

export { groupResource };
