// What the dashboard reads from the read API beyond the basic list: versions and our written taint and
// condition per row, the `check` filter with observed values, the verdict history of a node, the spec in
// force in the summary, and conditional GETs (ETag / 304).
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ClusterView, KubernetesIntegration } from '../../../aggregator/contracts.js';
import type { Verdict } from '../../../report/schema.js';
import { fakeEvaluator, makeApp, postReport, sampleReport, type TestApp } from '../harness.js';

let t: TestApp | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await t?.app.close();
  t = undefined;
});

function fakeKubernetes(): KubernetesIntegration {
  const cluster: ClusterView = {
    labelsOf: () => ({}),
    runtimeVersionOf: () => undefined,
    nodeNames: () => ['tainted'],
    synced: () => true,
  };
  return {
    cluster,
    sink: { update() {}, forget() {} },
    changes: () => [],
    guard: () => ({ maxPercent: 30, windowMs: 600_000, acceptAnnotation: 'a/accept', held: [] }),
    nodeStatus: () => ({ held: null, foreign: { labels: [], taints: [] } }),
    written: (node) =>
      node === 'tainted'
        ? {
            taint: { key: 'x/nonconformant', effect: 'NoSchedule' },
            condition: { type: 'BaselineNotMet', status: 'True', reason: 'ChecksFailed', message: 'memory' },
          }
        : undefined,
    clusterChecks: async () => [],
    ready: () => ({ ok: true }),
    start: async () => {},
    stop: async () => {},
  };
}

const get = (app: TestApp['app'], url: string, headers: Record<string, string> = {}) =>
  app.inject({ method: 'GET', url, headers });

describe('node rows for the dashboard', () => {
  it('carries versions from the facts and our taint and condition as written', async () => {
    t = await makeApp({ kubernetes: fakeKubernetes(), evaluator: fakeEvaluator(() => 'fail') });
    const gpu = sampleReport('tainted');
    gpu.facts.gpu = { driverVersion: '535.54.03', cudaVersion: '12.2', devices: [], containerToolkit: null };
    expect((await postReport(t.app, gpu)).statusCode).toBe(202);
    await postReport(t.app, sampleReport('plain'));
    const { nodes } = (await get(t.app, '/api/v1/nodes')).json();
    expect(nodes.find((n: { name: string }) => n.name === 'tainted')).toMatchObject({
      versions: { driver: '535.54.03', cuda: '12.2', jetpack: null, containerd: '1.7.27' },
      written: {
        taint: { key: 'x/nonconformant', effect: 'NoSchedule' },
        condition: { status: 'True', reason: 'ChecksFailed' },
      },
    });
    expect(nodes.find((n: { name: string }) => n.name === 'plain').written).toBeNull();
    const detail = (await get(t.app, '/api/v1/nodes/tainted')).json();
    expect(detail.written.taint.key).toBe('x/nonconformant');
  });

  it('check=<id> lists the nodes failing that check with its observed value', async () => {
    t = await makeApp({ evaluator: fakeEvaluator((n) => (n.startsWith('bad') ? 'fail' : 'pass')) });
    for (const n of ['bad-1', 'bad-2', 'good-1']) await postReport(t.app, sampleReport(n));
    const res = (await get(t.app, '/api/v1/nodes?check=memory.total')).json();
    expect(res.nodes.map((n: { name: string }) => n.name)).toEqual(['bad-1', 'bad-2']);
    expect(res.nodes[0].check).toEqual({
      status: 'fail',
      observed: String(64 * 1024 ** 3),
      expected: '>= 32 GiB',
    });
    expect((await get(t.app, '/api/v1/nodes?check=no.such')).json().total).toBe(0);
    expect((await get(t.app, '/api/v1/nodes')).json().nodes[0]).not.toHaveProperty('check');
  });
});

describe('verdict history', () => {
  it('records each transition this process saw, stale included, and only transitions', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2025-06-01T00:00:00Z'));
    let verdict: Verdict = 'pass';
    t = await makeApp({ evaluator: fakeEvaluator(() => verdict), staleAfterMs: 60_000 });
    await postReport(t.app, sampleReport('n'));
    await postReport(t.app, sampleReport('n')); // same verdict: no entry
    vi.advanceTimersByTime(1_000);
    verdict = 'fail';
    await postReport(t.app, sampleReport('n'));
    vi.advanceTimersByTime(120_000);
    t.store.sweep();
    verdict = 'pass';
    await postReport(t.app, sampleReport('n'));
    const { history } = (await get(t.app, '/api/v1/nodes/n')).json();
    expect(history).toEqual([
      { at: '2025-06-01T00:00:00.000Z', from: null, to: 'pass' },
      { at: '2025-06-01T00:00:01.000Z', from: 'pass', to: 'fail' },
      { at: '2025-06-01T00:02:01.000Z', from: 'fail', to: 'unknown' },
      { at: '2025-06-01T00:02:01.000Z', from: 'unknown', to: 'pass' },
    ]);
  });

  it('keeps at most the newest 20 transitions per node', async () => {
    let verdict: Verdict = 'pass';
    t = await makeApp({ evaluator: fakeEvaluator(() => verdict) });
    for (let i = 0; i < 30; i++) {
      verdict = i % 2 === 0 ? 'pass' : 'fail';
      await postReport(t.app, sampleReport('flappy'));
    }
    const history = t.store.history('flappy');
    expect(history).toHaveLength(20);
    // The last report was i = 29 (fail); the oldest kept is the 11th transition.
    expect(history.at(-1)).toMatchObject({ from: 'pass', to: 'fail' });
    expect(history[0]).toMatchObject({ from: 'fail', to: 'pass' });
    t.store.forget('flappy');
    expect(t.store.history('flappy')).toEqual([]);
  });
});

describe('summary: the spec in force', () => {
  it('names the spec, when it was put in force and a refused reload', async () => {
    t = await makeApp({ specError: () => 'spec.yaml: checks[0].id: required' });
    const { spec } = (await get(t.app, '/api/v1/summary')).json();
    expect(spec).toEqual({
      name: 'fake',
      revision: null,
      loadedAt: null,
      reloadError: 'spec.yaml: checks[0].id: required',
    });
  });
});

describe('conditional GETs', () => {
  it('answers 304 to a matching If-None-Match and a new ETag once the data changed', async () => {
    let verdict: Verdict = 'pass';
    t = await makeApp({ evaluator: fakeEvaluator(() => verdict) });
    await postReport(t.app, sampleReport('a'));
    const first = await get(t.app, '/api/v1/nodes/a');
    const etag = String(first.headers['etag']);
    expect(etag).toMatch(/^W\/".+"$/);
    expect(first.headers['cache-control']).toBe('private, no-cache');
    const again = await get(t.app, '/api/v1/nodes/a', { 'if-none-match': etag });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    expect((await get(t.app, '/api/v1/nodes/a', { 'if-none-match': 'W/"other", ' + etag })).statusCode).toBe(
      304,
    );

    verdict = 'fail';
    await postReport(t.app, sampleReport('a'));
    const changed = await get(t.app, '/api/v1/nodes/a', { 'if-none-match': etag });
    expect(changed.statusCode).toBe(200);
    expect(changed.headers['etag']).not.toBe(etag);
    expect(changed.json().verdict).toBe('fail');
  });

  it('leaves errors and routes outside the read API alone', async () => {
    t = await makeApp();
    const missing = await get(t.app, '/api/v1/nodes/nope');
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['etag']).toBeUndefined();
    expect((await get(t.app, '/healthz')).headers['etag']).toBeUndefined();
  });
});
