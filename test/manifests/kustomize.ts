// A small kustomize renderer: just what manifests/ uses (resources, configMapGenerator with kustomize's
// content-hash name suffix and generator labels, patches as strategic merge or JSON 6902, images, configMap name references).
// There is no cluster here and the tests must not depend on a kubectl binary, so the tests render the
// manifests themselves. Anything this renderer does not understand is an error, not silently ignored.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

export type Obj = { [key: string]: unknown };

export interface K8sObject extends Obj {
  apiVersion: string;
  kind: string;
  metadata: Obj & { name: string; namespace?: string };
}

const KNOWN_KUSTOMIZATION_FIELDS = new Set([
  'apiVersion',
  'kind',
  'resources',
  'configMapGenerator',
  'patches',
  'images',
]);

/** generatorOptions a configMapGenerator entry may set here. */
const GENERATOR_OPTIONS = new Set(['disableNameSuffixHash', 'labels', 'annotations']);

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function asK8sObject(v: unknown, where: string): K8sObject {
  if (!isObj(v) || typeof v['apiVersion'] !== 'string' || typeof v['kind'] !== 'string') {
    throw new Error(`${where}: not a Kubernetes object (apiVersion/kind missing)`);
  }
  const meta = v['metadata'];
  if (!isObj(meta) || typeof meta['name'] !== 'string') throw new Error(`${where}: metadata.name missing`);
  return v as K8sObject;
}

export function parseYamlObjects(text: string, where: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${where}: ${doc.errors[0]?.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    out.push(asK8sObject(value, where));
  }
  return out;
}

/** Go's encoding/json escapes these in strings; kustomize hashes Go's encoding, so we must too. */
function goJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(goJson).join(',')}]`;
  if (isObj(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${goJson(k)}:${goJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * kustomize's ConfigMap name suffix (api/hasher): sha256 of Go's JSON of {data, kind, name} -- the name is
 * still empty when kustomize hashes a generated ConfigMap -- cut to 10 characters without vowels/look-alikes.
 */
export function configMapHash(data: Record<string, string>): string {
  const hex = createHash('sha256')
    .update(goJson({ kind: 'ConfigMap', name: '', data }))
    .digest('hex');
  const map: Record<string, string> = { '0': 'g', '1': 'h', '3': 'k', a: 'm', e: 't' };
  return [...hex.slice(0, 10)].map((c) => map[c] ?? c).join('');
}

// ---- JSON 6902 ----

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new Error(`JSON pointer "${path}" must start with /`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: unknown, tokens: string[], path: string): { parent: Obj | unknown[]; key: string } {
  let cur: unknown = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObj(cur)) cur = cur[t];
    else cur = undefined;
    if (cur === undefined) throw new Error(`JSON patch path ${path}: ${t} does not exist`);
  }
  if (!Array.isArray(cur) && !isObj(cur))
    throw new Error(`JSON patch path ${path}: parent is not a container`);
  return { parent: cur, key: tokens[tokens.length - 1] ?? '' };
}

export function applyJson6902(doc: Obj, ops: unknown[]): Obj {
  const out = clone(doc);
  for (const raw of ops) {
    if (!isObj(raw) || typeof raw['op'] !== 'string' || typeof raw['path'] !== 'string') {
      throw new Error(`bad JSON patch operation ${JSON.stringify(raw)}`);
    }
    const { op, path } = raw as { op: string; path: string };
    const { parent, key } = parentOf(out, pointer(path), path);
    const value = clone(raw['value']);
    if (Array.isArray(parent)) {
      const index = key === '-' ? parent.length : Number(key);
      if (!Number.isInteger(index) || index < 0 || index > parent.length)
        throw new Error(`bad index in ${path}`);
      if (op === 'add') parent.splice(index, 0, value);
      else if (op === 'replace' && index < parent.length) parent[index] = value;
      else if (op === 'remove' && index < parent.length) parent.splice(index, 1);
      else if (op === 'test' && JSON.stringify(parent[index]) === JSON.stringify(value)) continue;
      else throw new Error(`JSON patch ${op} ${path} failed`);
    } else {
      if (op === 'add') parent[key] = value;
      else if (op === 'replace' && key in parent) parent[key] = value;
      else if (op === 'remove' && key in parent) delete parent[key];
      else if (op === 'test' && JSON.stringify(parent[key]) === JSON.stringify(value)) continue;
      else throw new Error(`JSON patch ${op} ${path} failed`);
    }
  }
  return out;
}

// ---- strategic merge (lists of named objects merge by name; new items go first, as kustomize does) ----

function mergeByName(base: unknown[], patch: unknown[]): unknown[] | null {
  const named = (xs: unknown[]) => xs.every((x) => isObj(x) && typeof x['name'] === 'string');
  if (!named(base) || !named(patch) || patch.length === 0) return null;
  const out = base.map((x) => clone(x)) as Obj[];
  const added: Obj[] = [];
  for (const p of patch as Obj[]) {
    const i = out.findIndex((b) => b['name'] === p['name']);
    if (p['$patch'] === 'delete') {
      if (i >= 0) out.splice(i, 1);
    } else if (i >= 0) {
      out[i] = strategicMerge(out[i] as Obj, p);
    } else {
      added.push(clone(p));
    }
  }
  return [...added, ...out];
}

export function strategicMerge(base: Obj, patch: Obj): Obj {
  const out = clone(base);
  for (const [k, v] of Object.entries(patch)) {
    const cur = out[k];
    if (v === null) delete out[k];
    else if (isObj(cur) && isObj(v)) out[k] = strategicMerge(cur, v);
    else if (Array.isArray(cur) && Array.isArray(v)) out[k] = mergeByName(cur, v) ?? clone(v);
    else out[k] = clone(v);
  }
  return out;
}

// ---- the kustomization ----

function groupOf(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

function matchesTarget(obj: K8sObject, target: Obj): boolean {
  const { group, version } = groupOf(obj.apiVersion);
  for (const [k, v] of Object.entries(target)) {
    const actual =
      k === 'kind'
        ? obj.kind
        : k === 'name'
          ? obj.metadata.name
          : k === 'namespace'
            ? obj.metadata.namespace
            : k === 'group'
              ? group
              : k === 'version'
                ? version
                : undefined;
    if (actual === undefined && !['kind', 'name', 'namespace', 'group', 'version'].includes(k)) {
      throw new Error(`unsupported patch target field ${k}`);
    }
    if (actual !== v) return false;
  }
  return true;
}

/** Pod specs of the workload kinds manifests/ uses. */
export function podSpecOf(obj: K8sObject): Obj | undefined {
  if (obj.kind === 'Pod') return isObj(obj['spec']) ? obj['spec'] : undefined;
  const spec = obj['spec'];
  if (!isObj(spec)) return undefined;
  const template = spec['template'];
  if (!isObj(template)) return undefined;
  return isObj(template['spec']) ? template['spec'] : undefined;
}

export function containersOf(podSpec: Obj): Obj[] {
  const all = [podSpec['initContainers'], podSpec['containers']].flatMap((x) => (Array.isArray(x) ? x : []));
  return all.filter(isObj);
}

function imageName(image: string): { name: string; tag?: string } {
  const at = image.indexOf('@');
  const base = at >= 0 ? image.slice(0, at) : image;
  const colon = base.lastIndexOf(':');
  if (colon > base.lastIndexOf('/')) return { name: base.slice(0, colon), tag: base.slice(colon + 1) };
  return { name: base };
}

function applyImages(objects: K8sObject[], images: unknown[]): void {
  for (const img of images) {
    if (!isObj(img) || typeof img['name'] !== 'string') throw new Error('images: entry without name');
    for (const obj of objects) {
      const pod = podSpecOf(obj);
      if (!pod) continue;
      for (const c of containersOf(pod)) {
        if (typeof c['image'] !== 'string') continue;
        const cur = imageName(c['image']);
        if (cur.name !== img['name']) continue;
        const name = typeof img['newName'] === 'string' ? img['newName'] : cur.name;
        if (typeof img['digest'] === 'string') c['image'] = `${name}@${img['digest']}`;
        else {
          const tag = typeof img['newTag'] === 'string' ? img['newTag'] : cur.tag;
          c['image'] = tag ? `${name}:${tag}` : name;
        }
      }
    }
  }
}

/** Rewrites configMap references in pod specs from generated names to their hashed names. */
function renameConfigMapRefs(objects: K8sObject[], renames: Map<string, string>): void {
  const key = (ns: string | undefined, name: string) => `${ns ?? ''}/${name}`;
  const fix = (holder: unknown, field: string, ns: string | undefined) => {
    if (!isObj(holder) || typeof holder[field] !== 'string') return;
    const to = renames.get(key(ns, holder[field] as string));
    if (to) holder[field] = to;
  };
  for (const obj of objects) {
    const pod = podSpecOf(obj);
    if (!pod) continue;
    const ns = obj.metadata.namespace;
    for (const v of Array.isArray(pod['volumes']) ? pod['volumes'] : []) {
      if (!isObj(v)) continue;
      fix(v['configMap'], 'name', ns);
      const projected = v['projected'];
      if (isObj(projected) && Array.isArray(projected['sources'])) {
        for (const s of projected['sources']) if (isObj(s)) fix(s['configMap'], 'name', ns);
      }
    }
    for (const c of containersOf(pod)) {
      for (const e of Array.isArray(c['env']) ? c['env'] : []) {
        if (isObj(e) && isObj(e['valueFrom'])) fix(e['valueFrom']['configMapKeyRef'], 'name', ns);
      }
      for (const e of Array.isArray(c['envFrom']) ? c['envFrom'] : [])
        if (isObj(e)) fix(e['configMapRef'], 'name', ns);
    }
  }
}

function generateConfigMaps(
  dir: string,
  generators: unknown[],
): { objects: K8sObject[]; renames: Map<string, string> } {
  const objects: K8sObject[] = [];
  const renames = new Map<string, string>();
  for (const g of generators) {
    if (!isObj(g) || typeof g['name'] !== 'string') throw new Error('configMapGenerator: entry without name');
    const data: Record<string, string> = {};
    for (const f of Array.isArray(g['files']) ? g['files'] : []) {
      if (typeof f !== 'string') throw new Error('configMapGenerator: files must be strings');
      const eq = f.indexOf('=');
      const [k, path] = eq >= 0 ? [f.slice(0, eq), f.slice(eq + 1)] : [basename(f), f];
      data[k] = readFileSync(join(dir, path), 'utf8');
    }
    for (const lit of Array.isArray(g['literals']) ? g['literals'] : []) {
      const s = String(lit);
      const eq = s.indexOf('=');
      data[s.slice(0, eq)] = s.slice(eq + 1);
    }
    const ns = typeof g['namespace'] === 'string' ? g['namespace'] : undefined;
    const options = isObj(g['options']) ? g['options'] : {};
    for (const k of Object.keys(options))
      if (!GENERATOR_OPTIONS.has(k))
        throw new Error(`configMapGenerator ${g['name']}: option ${k} is not supported here`);
    const name =
      options['disableNameSuffixHash'] === true ? g['name'] : `${g['name']}-${configMapHash(data)}`;
    renames.set(`${ns ?? ''}/${g['name']}`, name);
    const metadata: K8sObject['metadata'] = { name };
    if (ns) metadata.namespace = ns;
    // Labels and annotations do not enter kustomize's hash (api/hasher hashes kind, name and data).
    for (const field of ['labels', 'annotations']) {
      const values = options[field];
      if (values === undefined) continue;
      if (!isObj(values) || Object.values(values).some((v) => typeof v !== 'string'))
        throw new Error(`configMapGenerator ${g['name']}: options.${field} must map strings to strings`);
      metadata[field] = { ...values };
    }
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata, data });
  }
  return { objects, renames };
}

/** Renders the kustomization in `dir` (a directory holding kustomization.yaml). */
export function renderKustomization(dir: string): K8sObject[] {
  const file = join(dir, 'kustomization.yaml');
  const k: unknown = parse(readFileSync(file, 'utf8'));
  if (!isObj(k)) throw new Error(`${file}: not a mapping`);
  for (const field of Object.keys(k)) {
    if (!KNOWN_KUSTOMIZATION_FIELDS.has(field))
      throw new Error(`${file}: field "${field}" is not supported here`);
  }
  let objects: K8sObject[] = [];
  for (const r of Array.isArray(k['resources']) ? k['resources'] : []) {
    const path = join(dir, String(r));
    if (!existsSync(path)) throw new Error(`${file}: resource ${r} does not exist`);
    if (statSync(path).isDirectory()) objects.push(...renderKustomization(path));
    else objects.push(...parseYamlObjects(readFileSync(path, 'utf8'), path));
  }
  const generated = generateConfigMaps(
    dir,
    Array.isArray(k['configMapGenerator']) ? k['configMapGenerator'] : [],
  );
  objects.push(...generated.objects);

  for (const p of Array.isArray(k['patches']) ? k['patches'] : []) {
    if (!isObj(p)) throw new Error(`${file}: bad patch entry`);
    const text =
      typeof p['path'] === 'string' ? readFileSync(join(dir, p['path']), 'utf8') : String(p['patch'] ?? '');
    const body: unknown = parse(text);
    const target = isObj(p['target']) ? p['target'] : undefined;
    let selected: (o: K8sObject) => boolean;
    if (target) selected = (o) => matchesTarget(o, target);
    else {
      const self = asK8sObject(body, `${file} patch`);
      selected = (o) =>
        o.kind === self.kind &&
        o.metadata.name === self.metadata.name &&
        (self.metadata.namespace === undefined || o.metadata.namespace === self.metadata.namespace);
    }
    let hits = 0;
    objects = objects.map((o) => {
      if (!selected(o)) return o;
      hits += 1;
      if (Array.isArray(body)) return applyJson6902(o, body) as K8sObject;
      if (isObj(body)) return strategicMerge(o, body) as K8sObject;
      throw new Error(`${file}: patch is neither a list (JSON 6902) nor a mapping (strategic merge)`);
    });
    if (hits === 0) throw new Error(`${file}: a patch matched no object`);
  }
  applyImages(objects, Array.isArray(k['images']) ? k['images'] : []);
  renameConfigMapRefs(objects, generated.renames);
  return objects;
}
