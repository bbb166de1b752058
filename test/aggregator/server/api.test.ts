import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NoAuthenticator } from '../../../aggregator/auth/no-auth.js';
import type { ClusterView, KubernetesIntegration, PlannedChange } from '../../../aggregator/contracts.js';
import { createSpecEvaluator } from '../../../aggregator/server/spec-evaluator.js';
import { loadSpec } from '../../../spec/load.js';
import { fakeEvaluator, makeApp, postReport, sampleReport, type TestApp } from '../harness.js';

let t: TestApp | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await t?.app.close();
  t = undefined;
});

type ListItem = { name: string; role: string; verdict: string; failingChecks: string[]; stale: boolean };
const list = async (app: TestApp['app'], query = '') => {
  const res = await app.inject({ method: 'GET', url: `/api/v1/nodes${query}` });
  return {
    status: res.statusCode,
    body: res.json() as { nodes: ListItem[]; total: number; message?: string },
  };
};

function fakeKubernetes(labels: Record<string, Record<string, string>>, ready = true): KubernetesIntegration {
  const cluster: ClusterView = {
    labelsOf: (n) => labels[n],
    runtimeVersionOf: () => undefined,
    nodeNames: () => Object.keys(labels),
    synced: () => ready,
  };
  const change: PlannedChange = {
    node: 'gpu-1',
    kind: 'node-patch',
    summary: 'set labels',
    body: { metadata: { labels: { x: 'y' } } },
    applied: false,
    at: '2025-01-01T00:00:00.000Z',
  };
  return {
    cluster,
    sink: { update() {}, forget() {} },
    changes: (node) => (node === 'gpu-1' ? [change] : []),
    guard: () => ({ maxPercent: 30, windowMs: 600_000, acceptAnnotation: 'a/accept', held: [] }),
    nodeStatus: () => ({ held: null, foreign: { labels: [], taints: [] } }),
    written: (node) =>
      node === 'gpu-1'
        ? { taint: null, condition: { type: 'BaselineNotMet', status: 'False', reason: 'BaselineMet' } }
        : undefined,
    clusterChecks: async (states) => [
      {
        id: 'cluster.nodes',
        status: 'pass',
        observed: String(states.length),
        expected: null,
        message: `${states.length} nodes`,
        remediation: null,
        source: null,
      },
    ],
    ready: () => (ready ? { ok: true } : { ok: false, reason: 'node informer has not synced' }),
    start: async () => {},
    stop: async () => {},
  };
}

describe('node list, detail and summary', () => {
  it('lists nodes with filters, validated', async () => {
    t = await makeApp({ evaluator: fakeEvaluator((n) => (n.startsWith('bad') ? 'fail' : 'pass')) });
    for (const n of ['good-1', 'good-2', 'bad-1'])
      expect((await postReport(t.app, sampleReport(n))).statusCode).toBe(202);

    const all = await list(t.app);
    expect(all.body.total).toBe(3);
    expect(all.body.nodes.map((n) => n.name)).toEqual(['bad-1', 'good-1', 'good-2']);
    expect(all.body.nodes[0]).toMatchObject({
      verdict: 'fail',
      failingChecks: ['memory.total'],
      stale: false,
    });

    expect((await list(t.app, '?verdict=fail')).body.nodes.map((n) => n.name)).toEqual(['bad-1']);
    expect((await list(t.app, '?verdict=pass&role=compute')).body.total).toBe(2);
    expect((await list(t.app, '?role=gpu')).body.total).toBe(0);
    expect((await list(t.app, '?stale=true')).body.total).toBe(0);
    expect((await list(t.app, '?stale=false')).body.total).toBe(3);

    const bad = await list(t.app, '?verdict=maybe');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toBe('querystring/verdict must be one of "pass", "warn", "fail", "unknown"');
    expect((await list(t.app, '?stale=yes')).status).toBe(400);
    const unknownFilter = await list(t.app, '?color=red');
    expect(unknownFilter.status).toBe(400);
    expect(unknownFilter.body.message).toBe('querystring/color is not allowed (unknown field)');
  });

  it('serves one node, 404 JSON for an unknown one', async () => {
    t = await makeApp();
    await postReport(t.app, sampleReport('node-a'));
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/nodes/node-a' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      node: 'node-a',
      role: 'compute',
      verdict: 'pass',
      evaluatedVerdict: 'pass',
      stale: false,
      facts: { cpu: { arch: 'x86_64', logicalCores: 16 }, memory: { totalBytes: 64 * 1024 ** 3 } },
      checks: [{ id: 'memory.total', status: 'pass' }],
    });
    expect(Date.parse(body.lastReportAt)).not.toBeNaN();
    expect(body).not.toHaveProperty('plannedChanges');

    const missing = await t.app.inject({ method: 'GET', url: '/api/v1/nodes/nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: 'node "nope" is not known: no report received from it',
    });
    const noRoute = await t.app.inject({ method: 'GET', url: '/api/v2/whatever' });
    expect(noRoute.statusCode).toBe(404);
    expect(noRoute.json()).toMatchObject({ error: 'Not Found' });
  });

  it('summarises by role and verdict; standalone has no cluster checks', async () => {
    t = await makeApp({ evaluator: fakeEvaluator((n) => (n === 'w' ? 'warn' : 'pass')) });
    await postReport(t.app, sampleReport('p'));
    await postReport(t.app, sampleReport('w'));
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/summary' });
    expect(res.statusCode).toBe(200);
    const s = res.json();
    expect(s).toMatchObject({
      total: 2,
      stale: 0,
      byVerdict: { total: 2, pass: 1, warn: 1, fail: 0, unknown: 0, stale: 0 },
      clusterChecks: [],
    });
    expect(s.byRole.compute).toEqual({ total: 2, pass: 1, warn: 1, fail: 0, unknown: 0, stale: 0 });
    expect(s.byRole.gpu.total).toBe(0);
  });

  it('with Kubernetes: role from labels, planned changes, cluster checks, readiness', async () => {
    let k8s = fakeKubernetes({ 'gpu-1': { 'node-type': 'gpu' } });
    t = await makeApp({ kubernetes: k8s });
    expect((await postReport(t.app, sampleReport('gpu-1'))).json().role).toBe('gpu');
    const detail = (await t.app.inject({ method: 'GET', url: '/api/v1/nodes/gpu-1' })).json();
    expect(detail.roleSource).toBe('label:node-type');
    expect(detail.plannedChanges).toEqual([
      expect.objectContaining({ kind: 'node-patch', summary: 'set labels' }),
    ]);
    const summary = (await t.app.inject({ method: 'GET', url: '/api/v1/summary' })).json();
    expect(summary.clusterChecks).toEqual([expect.objectContaining({ id: 'cluster.nodes', observed: '1' })]);
    expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    await t.app.close();

    k8s = fakeKubernetes({}, false);
    t = await makeApp({ kubernetes: k8s });
    const notReady = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json()).toMatchObject({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'node informer has not synced',
    });
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
  });
});

describe('staleness', () => {
  it('turns a silent node unknown after --stale-after and tells the sink once', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    vi.setSystemTime(new Date('2025-06-01T00:00:00Z'));
    t = await makeApp({ staleAfterMs: 15 * 60_000 });
    t.store.start();
    await postReport(t.app, sampleReport('quiet'));
    await postReport(t.app, sampleReport('chatty'));
    expect(t.sink.updates).toHaveLength(2);

    vi.advanceTimersByTime(10 * 60_000);
    await postReport(t.app, sampleReport('chatty'));
    vi.advanceTimersByTime(6 * 60_000);

    const nodes = (await list(t.app)).body.nodes;
    expect(nodes.find((n) => n.name === 'quiet')).toMatchObject({ verdict: 'unknown', stale: true });
    expect(nodes.find((n) => n.name === 'chatty')).toMatchObject({ verdict: 'pass', stale: false });
    expect((await list(t.app, '?stale=true')).body.nodes.map((n) => n.name)).toEqual(['quiet']);
    expect((await list(t.app, '?verdict=unknown')).body.total).toBe(1);
    const detail = (await t.app.inject({ method: 'GET', url: '/api/v1/nodes/quiet' })).json();
    expect(detail).toMatchObject({ verdict: 'unknown', evaluatedVerdict: 'pass', stale: true });

    const staleUpdates = t.sink.updates.filter((u) => u.stale);
    expect(staleUpdates).toEqual([
      expect.objectContaining({ node: 'quiet', verdict: 'unknown', stale: true }),
    ]);
    vi.advanceTimersByTime(10 * 60_000);
    expect(t.sink.updates.filter((u) => u.node === 'quiet' && u.stale)).toHaveLength(1);
    expect(t.sink.updates.filter((u) => u.node === 'chatty' && u.stale)).toHaveLength(1);

    const summary = (await t.app.inject({ method: 'GET', url: '/api/v1/summary' })).json();
    expect(summary.stale).toBe(2); // chatty too by now
    expect(summary.byVerdict.unknown).toBe(2);

    // A fresh report ends the staleness.
    await postReport(t.app, sampleReport('quiet'));
    expect((await list(t.app, '?stale=false')).body.nodes.map((n) => n.name)).toEqual(['quiet']);
    expect(t.sink.updates.at(-1)).toMatchObject({ node: 'quiet', verdict: 'pass', stale: false });
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^osmo_validator_stale_nodes 1$/m);
    t.store.stop();
  });

  it('forgets a node the cluster no longer has', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const labels: Record<string, Record<string, string>> = { a: {}, b: {} };
    t = await makeApp({ kubernetes: fakeKubernetes(labels) });
    await postReport(t.app, sampleReport('a'));
    await postReport(t.app, sampleReport('b'));
    delete labels['b'];
    t.store.sweep();
    expect(t.store.size()).toBe(2); // within the grace period (informer lag)
    vi.advanceTimersByTime(2 * 60_000);
    t.store.sweep();
    expect((await list(t.app)).body.nodes.map((n) => n.name)).toEqual(['a']);
    expect(t.sink.forgotten).toEqual(['b']);
  });
});

describe('spec, OpenAPI and no-auth', () => {
  it('evaluates with the built-in spec and serves it', async () => {
    const spec = await loadSpec();
    t = await makeApp({ evaluator: createSpecEvaluator(spec) });
    const res = await postReport(t.app, sampleReport('real-1'));
    expect(res.statusCode).toBe(202);
    const detail = (await t.app.inject({ method: 'GET', url: '/api/v1/nodes/real-1' })).json();
    expect(detail.roleSource).toBe('facts');
    expect(detail.checks.map((c: { id: string }) => c.id)).toEqual(
      expect.arrayContaining(['cpu.arch', 'memory.total']),
    );
    const listed = (await list(t.app)).body.nodes[0]!;
    expect(listed.failingChecks).toEqual(
      detail.checks.filter((c: { status: string }) => c.status === 'fail').map((c: { id: string }) => c.id),
    );
    const served = (await t.app.inject({ method: 'GET', url: '/api/v1/spec' })).json();
    expect(served).toEqual(JSON.parse(JSON.stringify(spec)));
  });

  it('documents every route in /openapi.json', async () => {
    t = await makeApp();
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    const paths = Object.keys(doc.paths).sort();
    expect(paths).toEqual(
      [
        '/api/v1/guard',
        '/api/v1/nodes',
        '/api/v1/nodes/{name}',
        '/api/v1/reports',
        '/api/v1/spec',
        '/api/v1/summary',
        '/healthz',
        '/metrics',
        '/openapi.json',
        '/readyz',
      ].sort(),
    );
    const post = doc.paths['/api/v1/reports'].post;
    expect(post.requestBody.content['application/json'].schema.properties.facts).toBeDefined();
    expect(Object.keys(post.responses).sort()).toEqual(['202', '400', '401', '403', '413', '415', '503']);
    expect(doc.paths['/api/v1/nodes'].get.parameters.map((p: { name: string }) => p.name).sort()).toEqual([
      'check',
      'role',
      'stale',
      'verdict',
    ]);
    expect(Object.keys(doc.paths['/metrics'].get.responses['200'].content)).toEqual(['text/plain']);
    expect(Object.keys(doc.paths['/openapi.json'].get.responses['200'].content)).toEqual([
      'application/json',
    ]);
    // The metrics body still goes out as Prometheus text.
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(metrics.body).toContain('# HELP');
  });

  it('--no-auth accepts without a token and warns at start and on every report', async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const sinkStream = new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
        cb();
      },
    });
    const logger = pino({ level: 'info' }, sinkStream);
    t = await makeApp({ authenticator: new NoAuthenticator(logger), logger });
    expect(lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([
      expect.stringContaining('authentication is DISABLED'),
    ]);
    expect((await postReport(t.app, sampleReport('x'), {})).statusCode).toBe(202);
    expect((await postReport(t.app, sampleReport('y'), {})).statusCode).toBe(202);
    expect(lines.filter((l) => l.level === 40 && l.msg.includes('unauthenticated report'))).toHaveLength(2);
  });
});
