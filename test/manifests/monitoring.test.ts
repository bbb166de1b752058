// The monitoring overlay (manifests/overlays/prometheus, and its cert-manager variant): the ServiceMonitor
// scrapes the aggregator's Service over HTTPS with a CA that exists, never the agents; the PrometheusRule
// passes `promtool check rules` and its alerts fire (and stay quiet) as `promtool test rules` evaluates
// them; every alert has a runbook paragraph; the Grafana dashboard is valid JSON whose queries parse; and
// every metric the rules and the dashboard read is one the code defines or one listed below as coming.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CA_KEY, serviceDnsNames } from '../../aggregator/tls/bootstrap.js';
import { AGENT_HEALTH_PORT, CA_CONFIGMAP, NAMESPACE, SERVICE_NAME, TLS_SECRET } from './expected-args.js';
import { isObj, type K8sObject, type Obj, renderKustomization } from './kustomize.js';
import { validatePrometheusRule, validateServiceMonitor } from './monitoring-shapes.js';
import { metricNames, promtool, quotedNames, seriesOf } from './promql.js';

const ROOT = join(import.meta.dirname, '..', '..');
const OVERLAYS = join(ROOT, 'manifests', 'overlays');
const RUNBOOKS = 'https://github.com/NVIDIA/osmo-node-validator/blob/main/docs/RUNBOOKS.md';

/**
 * Metrics that later work adds under exactly these names (issue 14). The rules and the dashboard use them
 * already; once the code defines one, it is found among the code's metrics below as well.
 */
const EXPECTED_TO_EXIST = ['osmo_validator_guard_held_nodes', 'osmo_validator_nodes_never_reported'];

/** Grafana's reference to the dashboard's data source variable. */
const DATASOURCE_UID = ['$', '{datasource}'].join('');

/** Series Prometheus itself writes for every target. */
const PROMETHEUS_SERIES = ['up'];

const tmp = mkdtempSync(join(tmpdir(), 'onv-monitoring-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function arr(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}

function one(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const hits = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(hits, `${kind} ${name ?? ''}`).toHaveLength(1);
  return hits[0] as K8sObject;
}

const prometheus = renderKustomization(join(OVERLAYS, 'prometheus'));
const withCertManager = renderKustomization(join(OVERLAYS, 'prometheus-cert-manager'));
const monitoringOnly = renderKustomization(join(OVERLAYS, 'prometheus', 'monitoring'));

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const ruleObject = one(prometheus, 'PrometheusRule');
const groups = arr(obj(ruleObject['spec'])['groups']);
const alerts = groups.flatMap((g) => arr(g['rules'])) as unknown as Rule[];

const dashboardMap = one(prometheus, 'ConfigMap', 'osmo-node-validator-dashboard');
const dashboardText = String(obj(dashboardMap['data'])['osmo-node-validator.json']);

interface Target {
  expr: string;
  refId: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
}

/** The rules file Prometheus would load (the PrometheusRule's spec). */
function writeRulesFile(): string {
  const file = join(tmp, 'rules.yaml');
  writeFileSync(file, stringify(ruleObject['spec']));
  return file;
}

/** Grafana's own variables replaced by what Grafana would put there, so promtool can parse the query. */
function withGrafanaVariables(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m');
}

describe('the monitoring overlays', () => {
  it('hold the base and the monitoring objects; the objects alone also render', () => {
    for (const objects of [prometheus, withCertManager]) {
      one(objects, 'Deployment', 'osmo-node-validator-aggregator');
      one(objects, 'DaemonSet', 'osmo-node-validator-agent');
    }
    expect(monitoringOnly.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ConfigMap/osmo-node-validator-dashboard',
      'PrometheusRule/osmo-node-validator',
      'ServiceMonitor/osmo-node-validator-aggregator',
    ]);
    for (const o of monitoringOnly) expect(o.metadata.namespace).toBe(NAMESPACE);
  });

  it.each([
    ['ServiceMonitor', validateServiceMonitor],
    ['PrometheusRule', validatePrometheusRule],
  ] as const)('the %s shape check refuses what the CRD would not take', (kind, validate) => {
    const good = one(monitoringOnly, kind);
    expect(() => validate(good)).not.toThrow();
    const spec = obj(good['spec']);
    const broken: K8sObject[] =
      kind === 'ServiceMonitor'
        ? [
            { ...good, spec: { ...spec, endpoints: [] } },
            { ...good, spec: { ...spec, endpoints: [{ ...arr(spec['endpoints'])[0], scheme: 'HTTPS2' }] } },
            { ...good, spec: { ...spec, endpoint: spec['endpoints'] } },
          ]
        : [
            { ...good, spec: { groups: [{ name: 'g', rules: [{ alert: 'A', record: 'b', expr: 'up' }] }] } },
            { ...good, spec: { groups: [{ name: 'g', rules: [{ alert: 'A', expr: 'up', for: 'ten' }] }] } },
            { ...good, spec: { groups: [{ name: 'g', rules: [{ alert: 'A', expr: 'up', label: {} }] }] } },
          ];
    for (const b of broken) expect(() => validate(b)).toThrow();
  });
});

describe('the ServiceMonitor', () => {
  it.each([
    ['prometheus', prometheus],
    ['prometheus-cert-manager', withCertManager],
  ])('(%s) scrapes the aggregator Service over HTTPS, as the certificate names it', (_name, objects) => {
    const sm = one(objects, 'ServiceMonitor');
    const spec = obj(sm['spec']);
    const service = one(objects, 'Service', SERVICE_NAME);
    const matchLabels = obj(obj(spec['selector'])['matchLabels']);
    const serviceLabels = obj(service.metadata['labels']);
    expect(Object.entries(matchLabels).every(([k, v]) => serviceLabels[k] === v)).toBe(true);
    expect(obj(spec['namespaceSelector'])['matchNames']).toEqual([service.metadata.namespace]);
    // No other Service (none exists for the agents) matches the selector.
    const selected = objects.filter(
      (o) =>
        o.kind === 'Service' &&
        Object.entries(matchLabels).every(([k, v]) => obj(o.metadata['labels'])[k] === v),
    );
    expect(selected.map((o) => o.metadata.name)).toEqual([SERVICE_NAME]);

    const [endpoint, ...more] = arr(spec['endpoints']);
    expect(more).toEqual([]);
    const port = arr(obj(service['spec'])['ports']).find((p) => p['name'] === endpoint?.['port']);
    expect(port, `Service port ${String(endpoint?.['port'])}`).toBeDefined();
    expect(port?.['port']).not.toBe(AGENT_HEALTH_PORT);
    expect(endpoint).toMatchObject({ scheme: 'https', path: '/metrics' });
    const tls = obj(endpoint?.['tlsConfig']);
    expect(tls['insecureSkipVerify']).toBeUndefined();
    // Prometheus dials the pod IP; the serving certificate names the Service.
    expect(serviceDnsNames(SERVICE_NAME, NAMESPACE)).toContain(tls['serverName']);
  });

  it('trusts the CA the TLS bootstrap publishes (base) or the one cert-manager writes (variant)', () => {
    const base = obj(obj(arr(obj(one(prometheus, 'ServiceMonitor')['spec'])['endpoints'])[0]?.['tlsConfig']));
    expect(base['ca']).toEqual({ configMap: { name: CA_CONFIGMAP, key: CA_KEY } });
    // The bootstrap is what creates that ConfigMap: the overlay's aggregator runs it.
    const containers = arr(
      obj(obj(obj(one(prometheus, 'Deployment')['spec'])['template'])['spec'])['containers'],
    );
    expect(containers[0]?.['args']).toContain('--tls-bootstrap');

    const cm = obj(
      obj(arr(obj(one(withCertManager, 'ServiceMonitor')['spec'])['endpoints'])[0]?.['tlsConfig'])['ca'],
    );
    const secretName = obj(cm['secret'])['name'];
    expect(secretName).toBe(TLS_SECRET);
    expect(obj(cm['secret'])['key']).toBe('ca.crt');
    // cert-manager's CA Issuer writes ca.crt into the Secret of the Certificate it issues.
    const certificate = withCertManager.find(
      (o) => o.kind === 'Certificate' && obj(o['spec'])['secretName'] === secretName,
    );
    const issuer = one(
      withCertManager,
      'Issuer',
      String(obj(obj(certificate?.['spec'])['issuerRef'])['name']),
    );
    expect(isObj(obj(issuer['spec'])['ca'])).toBe(true);
  });
});

describe('the PrometheusRule', () => {
  it('covers what an operator needs to hear about, each alert with severity, summary, description, runbook', () => {
    const names = new Set(alerts.map((a) => a.alert));
    for (const needed of [
      'OsmoValidatorAggregatorDown',
      'OsmoValidatorNodesFailingBaseline',
      'OsmoValidatorAgentsStale',
      'OsmoValidatorNodesNeverReported',
      'OsmoValidatorSpecInvalid',
      'OsmoValidatorMassChangeGuardHolding',
      'OsmoValidatorCircuitBreakerOpen',
      'OsmoValidatorKubernetesWriteFailures',
      'OsmoValidatorTLSCertificateExpiring',
    ]) {
      expect(names.has(needed), needed).toBe(true);
    }
    for (const a of alerts) {
      expect(typeof a.alert, a.expr).toBe('string');
      expect(['warning', 'critical'], a.alert).toContain(a.labels?.['severity']);
      expect(a.annotations?.['summary'], a.alert).toBeTruthy();
      expect(a.annotations?.['description'], a.alert).toBeTruthy();
      expect(a.annotations?.['runbook_url'], a.alert).toBe(`${RUNBOOKS}#${String(a.alert).toLowerCase()}`);
    }
  });

  it('every runbook_url leads to a section of docs/RUNBOOKS.md, and every section there is an alert', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'RUNBOOKS.md'), 'utf8');
    // GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
    const anchors = [...doc.matchAll(/^## (.+)$/gm)].map((m) =>
      (m[1] as string)
        .trim()
        .toLowerCase()
        .replace(/[^\w\- ]/g, '')
        .replace(/ /g, '-'),
    );
    const linked = new Set(alerts.map((a) => String(a.annotations?.['runbook_url']).split('#')[1]));
    expect([...linked].filter((a) => !anchors.includes(String(a)))).toEqual([]);
    expect(anchors.filter((a) => !linked.has(a))).toEqual([]);
    // Each section says what it means, how to look and how to fix.
    for (const section of doc.split(/^## /m).slice(1)) {
      const title = section.split('\n')[0];
      for (const part of ['**What it means.**', '**How to look.**', '**How to fix.**'])
        expect(section.includes(part), `${title}: ${part}`).toBe(true);
    }
  });

  it('passes promtool check rules', () => {
    const r = promtool(['check', 'rules', writeRulesFile()]);
    expect(r.output).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(r.status, r.output).toBe(0);
  });

  it('promtool check rules does fail on a broken expression (the check is real)', () => {
    const file = join(tmp, 'broken.yaml');
    writeFileSync(
      file,
      stringify({ groups: [{ name: 'g', rules: [{ alert: 'A', expr: 'sum by (role (x)' }] }] }),
    );
    expect(promtool(['check', 'rules', file]).status).not.toBe(0);
  });
});

// ---- the alerts' behaviour, evaluated by promtool's rule engine ----

interface Firing {
  labels: Record<string, string>;
  summary: string;
}
interface AlertCase {
  what: string;
  series: Record<string, string>;
  alertname: string;
  at: string;
  fires: Firing[];
}

const AGG = 'job="osmo-node-validator",namespace="osmo-node-validator",pod="agg-1"';
const CASES: AlertCase[] = [
  {
    what: 'the aggregator target is down for 10 minutes',
    series: { [`up{${AGG}}`]: '1 1 0x15' },
    alertname: 'OsmoValidatorAggregatorDown',
    at: '15m',
    fires: [
      {
        labels: {
          severity: 'warning',
          job: 'osmo-node-validator',
          namespace: 'osmo-node-validator',
          pod: 'agg-1',
        },
        summary: 'The osmo-node-validator aggregator has not been scraped for 10 minutes.',
      },
    ],
  },
  {
    what: 'there is no aggregator target at all',
    series: { 'up{job="other"}': '1x20' },
    alertname: 'OsmoValidatorAggregatorDown',
    at: '15m',
    fires: [
      {
        labels: { severity: 'warning', job: 'osmo-node-validator', namespace: 'osmo-node-validator' },
        summary: 'The osmo-node-validator aggregator has not been scraped for 10 minutes.',
      },
    ],
  },
  {
    what: 'the aggregator is scraped',
    series: { [`up{${AGG}}`]: '1x20' },
    alertname: 'OsmoValidatorAggregatorDown',
    at: '15m',
    fires: [],
  },
  {
    what: 'gpu nodes fail for 20 minutes, compute nodes pass',
    series: {
      [`osmo_validator_nodes{${AGG},role="gpu",verdict="fail"}`]: '2x25',
      [`osmo_validator_nodes{${AGG},role="compute",verdict="pass"}`]: '5x25',
    },
    alertname: 'OsmoValidatorNodesFailingBaseline',
    at: '20m',
    fires: [
      { labels: { severity: 'warning', role: 'gpu' }, summary: '2 gpu node(s) fail the OSMO baseline.' },
    ],
  },
  {
    what: 'a gpu node fails for 10 minutes only',
    series: { [`osmo_validator_nodes{${AGG},role="gpu",verdict="fail"}`]: '1x10' },
    alertname: 'OsmoValidatorNodesFailingBaseline',
    at: '10m',
    fires: [],
  },
  {
    what: 'three nodes stale for 20 minutes',
    series: { [`osmo_validator_stale_nodes{${AGG}}`]: '3x25' },
    alertname: 'OsmoValidatorAgentsStale',
    at: '20m',
    fires: [
      { labels: { severity: 'warning' }, summary: '3 node(s) have not reported within --stale-after.' },
    ],
  },
  {
    what: 'no stale node',
    series: { [`osmo_validator_stale_nodes{${AGG}}`]: '0x25' },
    alertname: 'OsmoValidatorAgentsStale',
    at: '20m',
    fires: [],
  },
  {
    what: 'a node never reported for 35 minutes',
    series: { [`osmo_validator_nodes_never_reported{${AGG}}`]: '1x40' },
    alertname: 'OsmoValidatorNodesNeverReported',
    at: '35m',
    fires: [{ labels: { severity: 'warning' }, summary: '1 node(s) have never reported to the aggregator.' }],
  },
  {
    what: 'the spec turned invalid 6 minutes ago',
    series: { [`osmo_validator_spec_valid{${AGG}}`]: '1x4 0x10' },
    alertname: 'OsmoValidatorSpecInvalid',
    at: '10m',
    fires: [
      {
        labels: {
          severity: 'warning',
          job: 'osmo-node-validator',
          namespace: 'osmo-node-validator',
          pod: 'agg-1',
        },
        summary: 'The baseline spec file is invalid; the last good spec stays in force.',
      },
    ],
  },
  {
    what: 'the guard holds 4 compute nodes for 20 minutes',
    series: { [`osmo_validator_guard_held_nodes{${AGG},role="compute"}`]: '4x25' },
    alertname: 'OsmoValidatorMassChangeGuardHolding',
    at: '20m',
    fires: [
      {
        labels: { severity: 'warning', role: 'compute' },
        summary: 'The mass-change guard holds changes to 4 compute node(s).',
      },
    ],
  },
  {
    what: 'the breaker refused a gpu taint 10 minutes ago',
    series: { [`osmo_validator_taints_skipped_by_breaker_total{${AGG},role="gpu"}`]: '0x5 1x20' },
    alertname: 'OsmoValidatorCircuitBreakerOpen',
    at: '15m',
    fires: [
      {
        labels: { severity: 'warning', role: 'gpu' },
        summary: 'The circuit breaker held back new taints on gpu nodes.',
      },
    ],
  },
  {
    what: 'the breaker refused a taint two hours ago',
    series: { [`osmo_validator_taints_skipped_by_breaker_total{${AGG},role="gpu"}`]: '0x5 1x180' },
    alertname: 'OsmoValidatorCircuitBreakerOpen',
    at: '150m',
    fires: [],
  },
  {
    what: 'a third of node patches fail, every status patch fails, reads fail (not writes), events succeed',
    series: {
      [`osmo_validator_k8s_writes_total{${AGG},kind="node-patch"}`]: '0+10x40',
      [`osmo_validator_k8s_write_failures_total{${AGG},kind="node-patch"}`]: '0+5x40',
      [`osmo_validator_k8s_write_failures_total{${AGG},kind="status-patch"}`]: '0+2x40',
      [`osmo_validator_k8s_write_failures_total{${AGG},kind="read"}`]: '0+9x40',
      [`osmo_validator_k8s_writes_total{${AGG},kind="event"}`]: '0+100x40',
      [`osmo_validator_k8s_write_failures_total{${AGG},kind="event"}`]: '0+1x40',
    },
    alertname: 'OsmoValidatorKubernetesWriteFailures',
    at: '30m',
    fires: [
      {
        labels: { severity: 'warning', kind: 'node-patch' },
        summary: '33.33% of Kubernetes node-patch writes fail.',
      },
      {
        labels: { severity: 'warning', kind: 'status-patch' },
        summary: '100% of Kubernetes status-patch writes fail.',
      },
    ],
  },
  {
    // time() starts at 0 in promtool: expiry at 10 days, evaluated at 2 h.
    what: 'the serving certificate expires in about 10 days',
    series: { [`osmo_validator_tls_certificate_expiry_timestamp_seconds{${AGG}}`]: '864000x150' },
    alertname: 'OsmoValidatorTLSCertificateExpiring',
    at: '2h',
    fires: [
      {
        labels: { severity: 'warning' },
        summary: "The aggregator's serving certificate expires in 9d 22h 0m 0s.",
      },
    ],
  },
  {
    what: 'the serving certificate expires in about 5 days',
    series: { [`osmo_validator_tls_certificate_expiry_timestamp_seconds{${AGG}}`]: '432000x150' },
    alertname: 'OsmoValidatorTLSCertificateExpiring',
    at: '2h',
    fires: [
      {
        labels: { severity: 'warning' },
        summary: "The aggregator's serving certificate expires in 4d 22h 0m 0s.",
      },
      {
        labels: { severity: 'critical' },
        summary: "The aggregator's serving certificate expires in 4d 22h 0m 0s.",
      },
    ],
  },
  {
    what: 'the serving certificate has 60 days left',
    series: { [`osmo_validator_tls_certificate_expiry_timestamp_seconds{${AGG}}`]: '5184000x150' },
    alertname: 'OsmoValidatorTLSCertificateExpiring',
    at: '2h',
    fires: [],
  },
];

/** promtool's unit test file for one case; annotations other than the summary are the rule's own. */
function promtoolTest(c: AlertCase): unknown {
  const rule = (severity: string) =>
    alerts.find((a) => a.alert === c.alertname && a.labels?.['severity'] === severity);
  return {
    rule_files: ['rules.yaml'],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: Object.entries(c.series).map(([series, values]) => ({ series, values })),
        alert_rule_test: [
          {
            eval_time: c.at,
            alertname: c.alertname,
            exp_alerts: c.fires.map((f) => {
              const r = rule(String(f.labels['severity']));
              return {
                exp_labels: f.labels,
                exp_annotations: {
                  summary: f.summary,
                  description: r?.annotations?.['description'],
                  runbook_url: r?.annotations?.['runbook_url'],
                },
              };
            }),
          },
        ],
      },
    ],
  };
}

describe('the alerts, evaluated by promtool test rules', () => {
  it('every alert has a case where it fires', () => {
    const firing = new Set(CASES.filter((c) => c.fires.length > 0).map((c) => c.alertname));
    expect(alerts.map((a) => String(a.alert)).filter((a) => !firing.has(a))).toEqual([]);
  });

  it.each(CASES.map((c) => [c.alertname, c.what, c] as const))('%s: %s', (_alert, _what, c) => {
    writeRulesFile();
    const file = join(tmp, 'case.test.yaml');
    writeFileSync(file, stringify(promtoolTest(c)));
    const r = promtool(['test', 'rules', 'case.test.yaml'], tmp);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
  });

  it('a wrong expectation fails (promtool really compares)', () => {
    writeRulesFile();
    const c = CASES.find(
      (x) => x.alertname === 'OsmoValidatorAgentsStale' && x.fires.length > 0,
    ) as AlertCase;
    const wrong = { ...c, fires: [{ ...(c.fires[0] as Firing), summary: '4 node(s) have not reported.' }] };
    writeFileSync(join(tmp, 'wrong.test.yaml'), stringify(promtoolTest(wrong)));
    expect(promtool(['test', 'rules', 'wrong.test.yaml'], tmp).status).not.toBe(0);
  });
});

describe('the Grafana dashboard', () => {
  const dashboard = JSON.parse(dashboardText) as {
    uid: string;
    title: string;
    schemaVersion: number;
    panels: Panel[];
    templating: { list: Array<{ name: string; type: string; query: string }> };
  };
  const panels = dashboard.panels;
  const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p, target: t })));

  it('is the JSON file, labelled for the Grafana sidecar, with a stable uid', () => {
    expect(dashboardText).toBe(
      readFileSync(join(OVERLAYS, 'prometheus', 'monitoring', 'grafana-dashboard.json'), 'utf8'),
    );
    expect(obj(dashboardMap.metadata['labels'])['grafana_dashboard']).toBe('1');
    expect(dashboard.uid).toBe('osmo-node-validator');
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
  });

  it('panels have unique ids, fit the 24-column grid, and query the chosen Prometheus data source', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(variable).toMatchObject({ name: 'datasource', query: 'prometheus' });
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      if (p.type === 'row') continue;
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: DATASOURCE_UID });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
    }
  });

  it('shows the fleet by verdict and role, failing checks, stale agents, ingest, writes and memory', () => {
    const reads = (metric: string) =>
      queries.some((q) => metricNames(withGrafanaVariables(q.target.expr)).includes(metric));
    for (const m of [
      'osmo_validator_nodes',
      'osmo_validator_check_failing_nodes',
      'osmo_validator_stale_nodes',
      'osmo_validator_nodes_never_reported',
      'osmo_validator_reports_accepted_total',
      'osmo_validator_reports_rejected_total',
      'osmo_validator_k8s_writes_total',
      'osmo_validator_k8s_write_failures_total',
      'process_resident_memory_bytes',
    ]) {
      expect(reads(m), m).toBe(true);
    }
    const byRoleAndVerdict = queries.some((q) => /by \(role, verdict\)/.test(q.target.expr));
    expect(byRoleAndVerdict).toBe(true);
  });

  it('every query parses (promtool, as recording rules)', () => {
    const rules = queries.map((q) => ({
      record: `dashboard:panel_${q.panel.id}_${q.target.refId}`,
      expr: withGrafanaVariables(q.target.expr),
    }));
    const file = join(tmp, 'dashboard-rules.yaml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
    const r = promtool(['check', 'rules', file]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain(`SUCCESS: ${rules.length} rules found`);
  });
});

describe('metric names', () => {
  const codeMetrics = quotedNames(
    ['agent', 'aggregator', 'cli', 'report', 'spec'].map((d) => join(ROOT, d)),
    /osmo_validator_[a-z0-9_]+/,
  );
  const clientDefaults = quotedNames(
    [join(ROOT, 'node_modules', 'prom-client', 'lib', 'metrics')],
    /(?:nodejs|process)_[a-z0-9_]+/,
  );
  const known = new Set(
    [...codeMetrics, ...clientDefaults, ...EXPECTED_TO_EXIST].flatMap(seriesOf).concat(PROMETHEUS_SERIES),
  );

  it('the code defines the metrics the rules and dashboard rely on today', () => {
    for (const m of ['osmo_validator_nodes', 'osmo_validator_stale_nodes', 'osmo_validator_spec_valid'])
      expect(codeMetrics.has(m), m).toBe(true);
    expect(clientDefaults.has('process_resident_memory_bytes')).toBe(true);
  });

  it('every metric read by a rule or the dashboard exists in the code or is listed as coming', () => {
    const dashboard = JSON.parse(dashboardText) as { panels: Panel[] };
    const exprs = [
      ...alerts.map((a) => a.expr),
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => withGrafanaVariables(t.expr))),
    ];
    const used = new Set(exprs.flatMap(metricNames));
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((m) => !known.has(m))).toEqual([]);
  });

  it('finds the metric names in an expression', () => {
    expect(
      metricNames(
        'sum by (kind) (rate(a_total{kind!="read", x="y{z}"}[10m])) / on (kind) (b_total or c * 0) > 1e3',
      ),
    ).toEqual(['a_total', 'b_total', 'c']);
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))')).toEqual(['h_bucket']);
    expect(metricNames('min(t) - time() < 21 * 86400')).toEqual(['t']);
    expect(metricNames('up == 0 or absent(up{job="j"})')).toEqual(['up']);
  });
});
