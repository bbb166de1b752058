// Hand-written validation of a parsed spec document: every problem names the field path and what is
// wrong, unknown fields are errors (a typo must not silently drop a requirement), and rule parameters
// are checked against their rule type (a bad quantity or version fails at load, not at evaluation).
import { ROLES, type Role } from '../report/constants.js';
import { L4T_RELEASE } from './jetpack.js';
import { parseByteQuantity } from './quantity.js';
import {
  BYTE_FACTS,
  type CheckBase,
  type ClusterRules,
  type CommonRoleParams,
  DEFAULT_CLUSTER_RULES,
  type MinVersionParams,
  ONE_OF_FACTS,
  type OsAccept,
  QUANTITY_FACTS,
  type QuantityFact,
  type RoleMap,
  RULE_TYPES,
  SEVERITIES,
  SPEC_API_VERSION,
  SPEC_KIND,
  type Spec,
  type SpecCheck,
  VERSION_FACTS,
} from './spec-types.js';
import { parseVersion, VERSION_SCHEMES, type VersionScheme } from './versions.js';

/** A spec that cannot be used. The message names the file, the field path and the problem. */
export class SpecError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    readonly problem: string,
  ) {
    super(field ? `${file}: ${field}: ${problem}` : `${file}: ${problem}`);
    this.name = 'SpecError';
  }
}

type Obj = Record<string, unknown>;
const ID_RE = /^[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)*$/;
const ROLE_SET: ReadonlySet<string> = new Set(ROLES);

/**
 * What a YAML spec's author wrote for each plain number, by field path in the validator's notation
 * (`checks[5].roles.gpu.min`; an anchor's definition, not its aliases). parseSpec collects it while the
 * source text is still known, so every "YAML number" rejection quotes the original text.
 */
export type NumberSources = ReadonlyMap<string, { source: string; value: number }>;

/** The one message for a YAML number where text was meant (or where reading it lost digits). */
function yamlNumberProblem(source: string, value: number): string {
  const read = source === String(value) ? '' : `, read as ${value}`;
  return `${source} is a YAML number${read}; quote versions ("${source}") so no digit is lost`;
}

class Validator {
  constructor(
    readonly file: string,
    readonly numbers: NumberSources = new Map(),
  ) {}

  /** A number where a string is required: quotes what the author wrote when known. */
  yamlNumber(path: string, value: number): never {
    this.fail(path, yamlNumberProblem(this.numbers.get(path)?.source ?? String(value), value));
  }

  fail(path: string, problem: string): never {
    throw new SpecError(this.file, path, problem);
  }

  object(value: unknown, path: string): Obj {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail(path, `must be a mapping, got ${describe(value)}`);
    }
    return value as Obj;
  }

  /** Rejects keys outside `allowed`, naming the first unknown one. */
  closed(obj: Obj, path: string, allowed: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) {
        this.fail(join(path, key), `unknown field (allowed here: ${allowed.join(', ')})`);
      }
    }
  }

  string(obj: Obj, key: string, path: string, opts: { optional?: boolean; max?: number } = {}): string {
    const v = obj[key];
    if (v === undefined && opts.optional) return '';
    if (v === undefined) this.fail(join(path, key), 'is required');
    if (typeof v !== 'string' || v.trim().length === 0) {
      this.fail(join(path, key), `must be a non-empty string, got ${describe(v)}`);
    }
    if (v.length > (opts.max ?? 4096))
      this.fail(join(path, key), `is longer than ${opts.max ?? 4096} characters`);
    return v;
  }

  oneOf<T extends string>(obj: Obj, key: string, path: string, allowed: readonly T[]): T {
    const v = obj[key];
    if (v === undefined) this.fail(join(path, key), `is required (one of ${allowed.join(', ')})`);
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.fail(join(path, key), `${describe(v)} is not one of ${allowed.join(', ')}`);
    }
    return v as T;
  }

  /** A whole number of at least `min`; `fallback` when the field is absent. */
  count(obj: Obj, key: string, path: string, fallback: number, min: number): number {
    const v = obj[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      this.fail(join(path, key), `${describe(v)} is not a whole number of at least ${min}`);
    }
    return v;
  }

  /** An optional mapping: absent or empty (`key:` with nothing after it) is `{}`. */
  optionalObject(obj: Obj, key: string, path: string, allowed: readonly string[]): Obj {
    const v = obj[key];
    if (v === undefined || v === null) return {};
    const o = this.object(v, join(path, key));
    this.closed(o, join(path, key), allowed);
    return o;
  }

  stringList(value: unknown, path: string): string[] {
    if (!Array.isArray(value) || value.length === 0)
      this.fail(path, `must be a non-empty list, got ${describe(value)}`);
    return value.map((item, i) => {
      if (typeof item !== 'string' || item.length === 0) {
        this.fail(`${path}[${i}]`, `must be a non-empty string, got ${describe(item)}`);
      }
      return item;
    });
  }
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v);
  return `${typeof v} ${String(v)}`;
}

const COMMON_PARAM_KEYS = ['severity', 'note', 'remediation'] as const;

function commonParams(val: Validator, p: Obj, path: string): CommonRoleParams {
  const out: CommonRoleParams = {};
  if (p.severity !== undefined) out.severity = val.oneOf(p, 'severity', path, SEVERITIES);
  if (p.note !== undefined) out.note = val.string(p, 'note', path);
  if (p.remediation !== undefined) out.remediation = val.string(p, 'remediation', path);
  return out;
}

/** Validates `roles` and each role's parameters with `params`. */
function roleMap<P>(
  val: Validator,
  check: Obj,
  path: string,
  allowedKeys: readonly string[],
  params: (p: Obj, path: string) => P,
): RoleMap<P> {
  const rolesPath = join(path, 'roles');
  if (check.roles === undefined) val.fail(rolesPath, 'is required (a mapping from role to parameters)');
  const roles = val.object(check.roles, rolesPath);
  const out: RoleMap<P> = {};
  for (const [role, raw] of Object.entries(roles)) {
    const rp = join(rolesPath, role);
    if (!ROLE_SET.has(role)) val.fail(rp, `unknown role (expected one of ${ROLES.join(', ')})`);
    // `operator:` with nothing after it means "applies, no parameters".
    const p = raw === null ? {} : val.object(raw, rp);
    val.closed(p, rp, [...COMMON_PARAM_KEYS, ...allowedKeys]);
    out[role as Role] = { ...commonParams(val, p, rp), ...params(p, rp) };
  }
  return out;
}

function versionValue(val: Validator, p: Obj, key: string, path: string, scheme: VersionScheme): string {
  const text = p[key];
  // YAML reads `12.10` as the number 12.1: a version must be a string, or a digit is silently lost.
  if (typeof text === 'number') val.yamlNumber(join(path, key), text);
  if (typeof text !== 'string') val.fail(join(path, key), `must be a version string, got ${describe(text)}`);
  if (!parseVersion(text, scheme)) {
    val.fail(
      join(path, key),
      `${JSON.stringify(text)} is not a ${scheme} version (quote it in YAML, e.g. "12.6")`,
    );
  }
  return text;
}

function quantityValue(val: Validator, p: Obj, path: string, fact: QuantityFact): string | number {
  const v = p.min;
  const at = join(path, 'min');
  if (v === undefined) val.fail(at, 'is required');
  if (BYTE_FACTS.has(fact)) {
    if (typeof v !== 'string' || !parseByteQuantity(v)) {
      val.fail(at, `${describe(v)} is not a quantity (use 8GB, 8G, 8GiB or 8Gi)`);
    }
    return v;
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    val.fail(at, `${describe(v)} is not a count (use a whole number, e.g. 4)`);
  }
  return v;
}

const MIN_VERSION_KEYS = ['min', 'warnFromMajor', 'fact', 'whenAbsent', 'whenUnknown'] as const;

function minVersionParams(val: Validator, p: Obj, rp: string, scheme: VersionScheme): MinVersionParams {
  const out: MinVersionParams = { min: versionValue(val, p, 'min', rp, scheme) };
  if (p.warnFromMajor !== undefined) {
    const w = p.warnFromMajor;
    if (typeof w !== 'number' || !Number.isSafeInteger(w) || w < 0) {
      val.fail(join(rp, 'warnFromMajor'), `${describe(w)} is not a major version number`);
    }
    out.warnFromMajor = w;
  }
  if (p.fact !== undefined) out.fact = val.oneOf(p, 'fact', rp, VERSION_FACTS);
  if (p.whenAbsent !== undefined) out.whenAbsent = val.oneOf(p, 'whenAbsent', rp, ['fail', 'skip'] as const);
  if (p.whenUnknown !== undefined)
    out.whenUnknown = val.oneOf(p, 'whenUnknown', rp, ['warn', 'fail'] as const);
  return out;
}

function osReleaseParams(val: Validator, p: Obj, rp: string) {
  const ap = join(rp, 'accept');
  if (!Array.isArray(p.accept) || p.accept.length === 0)
    val.fail(ap, `must be a non-empty list, got ${describe(p.accept)}`);
  const accept: OsAccept[] = (p.accept as unknown[]).map((item, i) => {
    const ip = `${ap}[${i}]`;
    const o = val.object(item, ip);
    val.closed(o, ip, ['id', 'minVersion']);
    return {
      id: val.string(o, 'id', ip, { max: 64 }),
      minVersion: versionValue(val, o, 'minVersion', ip, 'dotted'),
    };
  });
  const warnIds = p.warnIds === undefined ? [] : val.stringList(p.warnIds, join(rp, 'warnIds'));
  return { accept, warnIds };
}

const DISK_FILLING_KEYS = ['nodefsMinFreePercent', 'imagefsMinFreePercent'] as const;

function diskFillingParams(val: Validator, p: Obj, rp: string) {
  const percent = (key: (typeof DISK_FILLING_KEYS)[number]): number => {
    const v = p[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v >= 100) {
      val.fail(join(rp, key), `${describe(v)} is not a percentage from 0 to below 100`);
    }
    return v as number;
  };
  return {
    nodefsMinFreePercent: percent('nodefsMinFreePercent'),
    imagefsMinFreePercent: percent('imagefsMinFreePercent'),
  };
}

function checkOf(val: Validator, raw: unknown, path: string): SpecCheck {
  const c = val.object(raw, path);
  const rule = val.oneOf(c, 'rule', path, RULE_TYPES);
  const baseKeys = ['id', 'description', 'rule', 'severity', 'roles', 'remediation', 'source'];
  const id = val.string(c, 'id', path, { max: 64 });
  if (!ID_RE.test(id))
    val.fail(join(path, 'id'), `${JSON.stringify(id)} is not a check id (like memory.total)`);
  const base: CheckBase = {
    id,
    description: val.string(c, 'description', path),
    severity: val.oneOf(c, 'severity', path, SEVERITIES),
    remediation: val.string(c, 'remediation', path),
    source: val.string(c, 'source', path, { max: 512 }),
  };
  switch (rule) {
    case 'oneOf': {
      val.closed(c, path, [...baseKeys, 'fact']);
      const fact = val.oneOf(c, 'fact', path, ONE_OF_FACTS);
      const roles = roleMap(val, c, path, ['values'], (p, rp) => ({
        values: val.stringList(p.values, join(rp, 'values')),
      }));
      return { ...base, rule, fact, roles };
    }
    case 'minQuantity': {
      val.closed(c, path, [...baseKeys, 'fact']);
      const fact = val.oneOf(c, 'fact', path, QUANTITY_FACTS);
      const roles = roleMap(val, c, path, ['min'], (p, rp) => ({ min: quantityValue(val, p, rp, fact) }));
      return { ...base, rule, fact, roles };
    }
    case 'minVersion': {
      val.closed(c, path, [...baseKeys, 'fact', 'scheme']);
      const fact = val.oneOf(c, 'fact', path, VERSION_FACTS);
      const scheme = val.oneOf(c, 'scheme', path, VERSION_SCHEMES);
      const roles = roleMap(val, c, path, MIN_VERSION_KEYS, (p, rp) => minVersionParams(val, p, rp, scheme));
      return { ...base, rule, fact, scheme, roles };
    }
    case 'osRelease': {
      val.closed(c, path, baseKeys);
      const roles = roleMap(val, c, path, ['accept', 'warnIds'], (p, rp) => osReleaseParams(val, p, rp));
      return { ...base, rule, roles };
    }
    case 'diskFilling': {
      val.closed(c, path, baseKeys);
      const roles = roleMap(val, c, path, DISK_FILLING_KEYS, (p, rp) => diskFillingParams(val, p, rp));
      return { ...base, rule, roles };
    }
    case 'osmoService': {
      val.closed(c, path, baseKeys);
      const roles = roleMap(val, c, path, ['whenNotConfigured'], (p, rp) =>
        p.whenNotConfigured === undefined
          ? {}
          : { whenNotConfigured: val.oneOf(p, 'whenNotConfigured', rp, ['skip', 'fail'] as const) },
      );
      return { ...base, rule, roles };
    }
    case 'registries':
    case 'nodeLabel':
    case 'dnsResolution': {
      val.closed(c, path, baseKeys);
      const roles = roleMap(val, c, path, [], () => ({}));
      return { ...base, rule, roles };
    }
  }
}

/** `l4tToJetpack`: L4T release → JetPack release, both version strings (a dotted JetPack fits the fact). */
function jetpackTableOf(val: Validator, raw: unknown): Record<string, string> {
  const table = val.object(raw, 'l4tToJetpack');
  const out: Record<string, string> = {};
  for (const key of Object.keys(table)) {
    if (!L4T_RELEASE.test(key)) {
      val.fail(
        join('l4tToJetpack', key),
        'is not an L4T release (three numbers, as etc/nv_tegra_release gives them: "36.4.3")',
      );
    }
    out[key] = versionValue(val, table, key, 'l4tToJetpack', 'dotted');
  }
  return out;
}

/** The `cluster:` section: thresholds of the cluster-level checks, each defaulting to the seed's number. */
function clusterRulesOf(val: Validator, root: Obj): ClusterRules {
  const d = DEFAULT_CLUSTER_RULES;
  const cluster = val.optionalObject(root, 'cluster', '', ['controlPlaneHa', 'operatorNodes']);
  const haPath = 'cluster.controlPlaneHa';
  const ha = val.optionalObject(cluster, 'controlPlaneHa', 'cluster', ['minNodes']);
  const opsPath = 'cluster.operatorNodes';
  const ops = val.optionalObject(cluster, 'operatorNodes', 'cluster', ['minNodes', 'maxNodes']);
  const minOps = val.count(ops, 'minNodes', opsPath, d.operatorNodes.minNodes, 0);
  // No upper limit unless a spec sets one: the requirements set none.
  const maxOps = ops['maxNodes'] === undefined ? undefined : val.count(ops, 'maxNodes', opsPath, 0, 1);
  if (maxOps !== undefined && maxOps < minOps) {
    val.fail(join(opsPath, 'maxNodes'), `${maxOps} is below minNodes (${minOps})`);
  }
  return {
    controlPlaneHa: { minNodes: val.count(ha, 'minNodes', haPath, d.controlPlaneHa.minNodes, 1) },
    operatorNodes: maxOps === undefined ? { minNodes: minOps } : { minNodes: minOps, maxNodes: maxOps },
  };
}

/**
 * Validates a parsed YAML/JSON document as a spec; throws SpecError naming file, field and problem.
 * `numbers` (from parseSpec) lets a number that YAML read differently from its text (`12.10` → 12.1,
 * `0x10`) be refused wherever it is, quoting the text: past this point only the changed value is known.
 */
export function validateSpec(doc: unknown, file: string, numbers: NumberSources = new Map()): Spec {
  const val = new Validator(file, numbers);
  for (const [path, { source, value }] of numbers) {
    if (source !== String(value)) val.yamlNumber(path, value);
  }
  const root = val.object(doc, '');
  val.closed(root, '', ['apiVersion', 'kind', 'metadata', 'checks', 'cluster', 'l4tToJetpack']);
  val.oneOf(root, 'apiVersion', '', [SPEC_API_VERSION]);
  val.oneOf(root, 'kind', '', [SPEC_KIND]);
  if (root.metadata === undefined) val.fail('metadata', 'is required');
  const meta = val.object(root.metadata, 'metadata');
  val.closed(meta, 'metadata', ['name', 'revision', 'description']);
  const name = val.string(meta, 'name', 'metadata', { max: 256 });
  const revRaw = meta.revision;
  // `revision: 3` is as clear as `revision: "3"`.
  const revision =
    typeof revRaw === 'number' ? String(revRaw) : val.string(meta, 'revision', 'metadata', { max: 256 });
  const metadata: Spec['metadata'] = { name, revision };
  if (meta.description !== undefined) metadata.description = val.string(meta, 'description', 'metadata');
  const rawChecks = root.checks;
  if (!Array.isArray(rawChecks) || rawChecks.length === 0) {
    val.fail('checks', `must be a non-empty list, got ${describe(rawChecks)}`);
  }
  const seen = new Map<string, number>();
  const checks = (rawChecks as unknown[]).map((raw, i) => {
    const check = checkOf(val, raw, `checks[${i}]`);
    const prev = seen.get(check.id);
    if (prev !== undefined)
      val.fail(`checks[${i}].id`, `duplicate check id ${JSON.stringify(check.id)} (also checks[${prev}])`);
    seen.set(check.id, i);
    return check;
  });
  const cluster = clusterRulesOf(val, root);
  const spec: Spec = { apiVersion: SPEC_API_VERSION, kind: SPEC_KIND, metadata, checks, cluster };
  if (root.l4tToJetpack !== undefined) spec.l4tToJetpack = jetpackTableOf(val, root.l4tToJetpack);
  return spec;
}
