// The store's standalone limits: at most `maxNodes` nodes (a new one past it is refused, a known one keeps
// reporting) and a node silent for `forgetAfterMs` forgotten, freeing its slot.
import { afterEach, describe, expect, it } from 'vitest';
import { NodeStore } from '../../aggregator/store.js';
import { fakeEvaluator, makeApp, postReport, sampleReport, type TestApp } from './harness.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const evaluator = fakeEvaluator();
const accept = (store: NodeStore, node: string, now: number) =>
  store.accept(sampleReport(node), evaluator.evaluate(sampleReport(node), undefined), now);

let t: TestApp | undefined;
afterEach(async () => {
  await t?.app.close();
  t = undefined;
});

describe('NodeStore limits (standalone)', () => {
  it('admits a known node always and a new one only while under maxNodes', () => {
    const store = new NodeStore({ staleAfterMs: 15 * MIN, maxNodes: 2 });
    expect(store.admits('a')).toBe(true);
    accept(store, 'a', 0);
    accept(store, 'b', 0);
    expect(store.admits('c')).toBe(false);
    expect(store.admits('a')).toBe(true);
    expect(store.admits('b')).toBe(true);
    store.forget('a');
    expect(store.admits('c')).toBe(true);
  });

  it('without maxNodes there is no cap (with Kubernetes the cluster bounds the names)', () => {
    const store = new NodeStore({ staleAfterMs: 15 * MIN });
    for (let i = 0; i < 50; i++) accept(store, `n-${i}`, 0);
    expect(store.admits('one-more')).toBe(true);
    expect(store.maxNodes).toBeUndefined();
  });

  it('forgets a node silent for forgetAfterMs (stale first), and only then', () => {
    const forgotten: Array<[string, number]> = [];
    const store = new NodeStore({
      staleAfterMs: 15 * MIN,
      forgetAfterMs: 7 * 24 * HOUR,
      onForgotten: (node, silentMs) => forgotten.push([node, silentMs]),
    });
    accept(store, 'quiet', 0);
    accept(store, 'busy', 0);
    store.sweep(20 * MIN);
    expect(store.get('quiet', 20 * MIN)?.verdict).toBe('unknown');
    accept(store, 'busy', 7 * 24 * HOUR - MIN);
    store.sweep(7 * 24 * HOUR - 1);
    expect(store.size()).toBe(2);
    store.sweep(7 * 24 * HOUR);
    expect(forgotten).toEqual([['quiet', 7 * 24 * HOUR]]);
    expect(store.get('quiet')).toBeUndefined();
    expect(store.get('busy', 7 * 24 * HOUR)?.verdict).toBe('pass');
    expect(store.history('quiet')).toEqual([]);
  });

  it('refuses options that make no sense', () => {
    expect(() => new NodeStore({ staleAfterMs: HOUR, forgetAfterMs: HOUR })).toThrow(
      /longer than staleAfterMs/,
    );
    expect(() => new NodeStore({ staleAfterMs: HOUR, maxNodes: 0 })).toThrow(/maxNodes/);
  });
});

describe('POST /api/v1/reports at --max-nodes', () => {
  it('a new node is 403 saying what to do, known nodes keep reporting, a forgotten node frees its slot', async () => {
    const store = new NodeStore({ staleAfterMs: 15 * MIN, maxNodes: 2, forgetAfterMs: 24 * HOUR });
    t = await makeApp({ store });
    expect((await postReport(t.app, sampleReport('node-a'))).statusCode).toBe(202);
    expect((await postReport(t.app, sampleReport('node-b'))).statusCode).toBe(202);
    const refused = await postReport(t.app, sampleReport('node-c'));
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toEqual({
      statusCode: 403,
      error: 'Forbidden',
      message:
        'node "node-c" is new and the aggregator already holds its --max-nodes 2 nodes: raise --max-nodes on ' +
        'the aggregator, or wait until nodes silent for --forget-after (24h) are forgotten; nodes it already ' +
        'holds keep reporting',
    });
    expect(store.get('node-c')).toBeUndefined();
    expect((await postReport(t.app, sampleReport('node-a'))).statusCode).toBe(202);

    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^osmo_validator_reports_rejected_total\{reason="node-limit"\} 1$/m);
    expect(metrics).toMatch(/^osmo_validator_reports_rejected_total\{reason="forbidden"\} 0$/m);
    expect(metrics).toMatch(/^osmo_validator_max_nodes 2$/m);

    store.sweep(Date.now() + 24 * HOUR);
    expect(store.size()).toBe(0);
    expect((await postReport(t.app, sampleReport('node-c'))).statusCode).toBe(202);
  });

  it('many new nodes at once do not overshoot the cap', async () => {
    const store = new NodeStore({ staleAfterMs: 15 * MIN, maxNodes: 5 });
    t = await makeApp({ store });
    const app = t.app;
    const codes = await Promise.all(
      Array.from({ length: 40 }, (_, i) => postReport(app, sampleReport(`n-${i}`)).then((r) => r.statusCode)),
    );
    expect(codes.filter((c) => c === 202)).toHaveLength(5);
    expect(codes.filter((c) => c === 403)).toHaveLength(35);
    expect(store.size()).toBe(5);
  });

  it('without a cap (Kubernetes mode) there is no max_nodes series', async () => {
    t = await makeApp();
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).not.toMatch(/osmo_validator_max_nodes/);
  });
});
