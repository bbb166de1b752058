// The Prometheus Operator's CRDs (monitoring.coreos.com/v1) are not in kubernetes-models: these check the
// fields of ServiceMonitor and PrometheusRule the manifests rely on, as the CRDs' schemas define them.
// Unknown fields are errors here (the apiserver would prune them silently, losing the setting).
import { isObj, type K8sObject, type Obj } from './kustomize.js';

const DURATION = /^(?:[0-9]+(?:ms|s|m|h|d|w|y))+$/;

function only(o: Obj, allowed: string[], where: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new Error(`${where}: unknown field ${k}`);
}

function stringMap(v: unknown, where: string): void {
  if (v === undefined) return;
  if (!isObj(v) || Object.values(v).some((x) => typeof x !== 'string'))
    throw new Error(`${where}: must map strings to strings`);
}

function keySelector(v: unknown, where: string): void {
  if (!isObj(v)) throw new Error(`${where}: must be an object`);
  only(v, ['name', 'key', 'optional'], where);
  if (typeof v['name'] !== 'string' || typeof v['key'] !== 'string')
    throw new Error(`${where}: needs name and key`);
}

function tlsConfig(v: unknown, where: string): void {
  if (!isObj(v)) throw new Error(`${where}: must be an object`);
  only(v, ['ca', 'serverName', 'insecureSkipVerify', 'cert', 'keySecret'], where);
  if (v['serverName'] !== undefined && typeof v['serverName'] !== 'string')
    throw new Error(`${where}.serverName: must be a string`);
  const ca = v['ca'];
  if (ca === undefined) return;
  if (!isObj(ca)) throw new Error(`${where}.ca: must be an object`);
  only(ca, ['configMap', 'secret'], `${where}.ca`);
  const sources = Object.keys(ca);
  if (sources.length !== 1) throw new Error(`${where}.ca: exactly one of configMap or secret`);
  keySelector(ca[sources[0] as string], `${where}.ca.${sources[0]}`);
}

export function validateServiceMonitor(o: K8sObject): void {
  const where = `ServiceMonitor ${o.metadata.name}`;
  const spec = o['spec'];
  if (!isObj(spec)) throw new Error(`${where}: spec missing`);
  only(spec, ['selector', 'namespaceSelector', 'endpoints', 'jobLabel', 'targetLabels'], `${where}.spec`);
  const selector = spec['selector'];
  if (!isObj(selector) || !isObj(selector['matchLabels'])) throw new Error(`${where}: selector.matchLabels`);
  stringMap(selector['matchLabels'], `${where}.selector.matchLabels`);
  const ns = spec['namespaceSelector'];
  if (ns !== undefined) {
    if (!isObj(ns)) throw new Error(`${where}.namespaceSelector: must be an object`);
    only(ns, ['matchNames', 'any'], `${where}.namespaceSelector`);
    const names = ns['matchNames'];
    if (names !== undefined && (!Array.isArray(names) || names.some((n) => typeof n !== 'string')))
      throw new Error(`${where}.namespaceSelector.matchNames: strings`);
  }
  const endpoints = spec['endpoints'];
  if (!Array.isArray(endpoints) || endpoints.length === 0) throw new Error(`${where}: endpoints missing`);
  endpoints.forEach((e, i) => {
    const at = `${where}.endpoints[${i}]`;
    if (!isObj(e)) throw new Error(`${at}: must be an object`);
    only(e, ['port', 'scheme', 'path', 'interval', 'scrapeTimeout', 'tlsConfig', 'bearerTokenFile'], at);
    if (e['bearerTokenFile'] !== undefined && typeof e['bearerTokenFile'] !== 'string') {
      throw new Error(`${at}.bearerTokenFile: a path`);
    }
    if (typeof e['port'] !== 'string') throw new Error(`${at}.port: a port name`);
    if (!['http', 'https'].includes(String(e['scheme']))) throw new Error(`${at}.scheme: http or https`);
    if (typeof e['path'] !== 'string' || !e['path'].startsWith('/')) throw new Error(`${at}.path`);
    for (const d of ['interval', 'scrapeTimeout'])
      if (e[d] !== undefined && !DURATION.test(String(e[d]))) throw new Error(`${at}.${d}: a duration`);
    if (e['tlsConfig'] !== undefined) tlsConfig(e['tlsConfig'], `${at}.tlsConfig`);
  });
}

export function validatePrometheusRule(o: K8sObject): void {
  const where = `PrometheusRule ${o.metadata.name}`;
  const spec = o['spec'];
  if (!isObj(spec)) throw new Error(`${where}: spec missing`);
  only(spec, ['groups'], `${where}.spec`);
  const groups = spec['groups'];
  if (!Array.isArray(groups) || groups.length === 0) throw new Error(`${where}: groups missing`);
  const names = new Set<string>();
  groups.forEach((g, i) => {
    const at = `${where}.groups[${i}]`;
    if (!isObj(g)) throw new Error(`${at}: must be an object`);
    only(g, ['name', 'interval', 'rules'], at);
    if (typeof g['name'] !== 'string' || names.has(g['name'])) throw new Error(`${at}.name: unique string`);
    names.add(g['name']);
    const rules = g['rules'];
    if (!Array.isArray(rules) || rules.length === 0) throw new Error(`${at}.rules missing`);
    rules.forEach((r, j) => {
      const rat = `${at}.rules[${j}]`;
      if (!isObj(r)) throw new Error(`${rat}: must be an object`);
      only(r, ['alert', 'record', 'expr', 'for', 'labels', 'annotations'], rat);
      if ((typeof r['alert'] === 'string') === (typeof r['record'] === 'string'))
        throw new Error(`${rat}: exactly one of alert or record`);
      if (typeof r['expr'] !== 'string' || r['expr'].trim() === '') throw new Error(`${rat}.expr`);
      if (r['for'] !== undefined && !DURATION.test(String(r['for']))) throw new Error(`${rat}.for: duration`);
      stringMap(r['labels'], `${rat}.labels`);
      stringMap(r['annotations'], `${rat}.annotations`);
    });
  });
}
