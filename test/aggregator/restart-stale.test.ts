// After an aggregator restart the store is empty: nodes we manage whose agent died must still go stale
// (condition Unknown, conformant=unknown, taint kept) once their deadline passes without a report.
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterView } from '../../aggregator/contracts.js';
import { NodeStore } from '../../aggregator/store.js';
import { makeNode } from '../../testing/k8s-emulator/index.js';
import { makeApp, RecordingSink, sampleReport, type TestApp } from './harness.js';
import { nodeState } from './reconcile/helpers.js';
import {
  labels,
  names,
  ourCondition,
  startEmulator,
  startIntegration,
  taints,
  waitFor,
} from './reconcile/k8s-setup.js';

const STALE_MS = 15 * 60_000;
let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A node as an earlier aggregator process left it: our labels, annotation, taint and condition. */
function managed(name: string, heartbeatMs: number, tainted = false) {
  return makeNode(name, {
    labels: {
      'node-type': 'gpu',
      [names.labels.conformant]: tainted ? 'false' : 'true',
      [names.labels.role]: 'gpu',
    },
    annotations: {
      [names.annotations.managedLabels]: JSON.stringify([names.labels.conformant, names.labels.role].sort()),
      ...(tainted ? { [names.annotations.managedTaints]: JSON.stringify([names.taintKey]) } : {}),
    },
    taints: tainted ? [{ key: names.taintKey, value: 'true', effect: 'NoSchedule' }] : [],
    conditions: [
      {
        type: names.conditionType,
        status: tainted ? 'True' : 'False',
        reason: tainted ? 'BaselineNotMet' : 'BaselineMet',
        message: 'from an earlier process',
        lastHeartbeatTime: iso(heartbeatMs),
        lastTransitionTime: iso(heartbeatMs),
      },
    ],
  });
}

describe('staleness of managed nodes after a restart', () => {
  it('each silent managed node goes stale at its deadline; reported and unmanaged ones do not', async () => {
    const t0 = Date.now();
    const emu = await startEmulator([
      managed('old', t0 - 20 * 60_000, true), // heartbeat long ago
      managed('recent', t0 - 2 * 60_000), // heartbeat + stale-after still ahead, but before first sync's
      managed('alive', t0 - 60_000),
      makeNode('other', { labels: { 'node-type': 'gpu' } }),
    ]);
    cleanup.push(() => emu.close());
    const { integration } = await startIntegration(emu);
    cleanup.push(() => integration.stop());
    const store = new NodeStore({
      staleAfterMs: STALE_MS,
      sink: integration.sink,
      cluster: integration.cluster,
      managedNodes: integration.managedNodes,
    });
    const reportOf = (node: string) => sampleReport(node);
    const firstSync = t0 + 60_000;
    store.sweep(firstSync);
    await integration.idle();
    expect(emu.writes()).toBe(0);
    // `alive` reports: it is never made stale by this path.
    store.accept(reportOf('alive'), nodeState('alive', 'pass').result!, t0 + 2 * 60_000);
    await integration.idle();
    emu.reset();

    // `recent`: its heartbeat + stale-after (t0 + 13 min) is not a deadline: its agent may have been
    // refused (not ready) until the first sync, so it gets stale-after from then.
    store.sweep(t0 + 13 * 60_000 + 1000);
    store.sweep(firstSync + STALE_MS - 1);
    await integration.idle();
    expect(emu.writes()).toBe(0);

    // Both: first sync + stale-after.
    store.sweep(firstSync + STALE_MS);
    await integration.idle();
    expect(ourCondition(emu, 'recent')?.status).toBe('Unknown');
    expect(labels(emu, 'recent')[names.labels.conformant]).toBe('unknown');
    expect(ourCondition(emu, 'old')?.status).toBe('Unknown');
    expect(ourCondition(emu, 'old')?.reason).toBe('NoRecentReport');
    expect(labels(emu, 'old')[names.labels.conformant]).toBe('unknown');
    expect(labels(emu, 'old')[names.labels.role]).toBe('gpu');
    expect(taints(emu, 'old')).toEqual([{ key: names.taintKey, value: 'true', effect: 'NoSchedule' }]);
    // Never ours, and reported: untouched by staleness (alive is not stale yet: it reported at t0 + 2 min).
    expect(emu.requestsBy('PATCH', /\/other/)).toEqual([]);
    expect(labels(emu, 'alive')[names.labels.conformant]).toBe('true');

    // One notification each: later sweeps write nothing more.
    const writes = emu.writes();
    store.sweep(firstSync + STALE_MS + 30_000);
    await integration.idle();
    expect(emu.writes()).toBe(writes);
    expect(store.unreportedStale().map((n) => n.name)).toEqual(['old', 'recent']);

    // A report brings it back.
    store.accept(reportOf('old'), nodeState('old', 'pass').result!, firstSync + STALE_MS + 120_000);
    await integration.idle();
    await waitFor(() => ourCondition(emu, 'old')?.status === 'False', 3000, 'old to pass again');
    expect(store.unreportedStale().map((n) => n.name)).toEqual(['recent']);
  });

  it('a restart over a node an earlier process already made stale writes nothing', async () => {
    const t0 = Date.now();
    const reportedAt = t0 - 60 * 60_000;
    const wentStale = reportedAt + STALE_MS;
    const node = managed('quiet', wentStale);
    const meta = node['metadata'] as { labels: Record<string, string> };
    meta.labels[names.labels.conformant] = 'unknown';
    const status = node['status'] as { conditions: Array<Record<string, string>> };
    const ours = status.conditions.find((c) => c['type'] === names.conditionType);
    Object.assign(ours ?? {}, {
      status: 'Unknown',
      reason: 'NoRecentReport',
      message: `no recent report from the node's validator agent since ${iso(reportedAt)}`,
      lastHeartbeatTime: iso(wentStale),
      lastTransitionTime: iso(wentStale),
    });
    const emu = await startEmulator([node, managed('fresh', t0 - 10 * 60_000)]);
    cleanup.push(() => emu.close());
    const { integration } = await startIntegration(emu);
    cleanup.push(() => integration.stop());
    const store = new NodeStore({
      staleAfterMs: STALE_MS,
      sink: integration.sink,
      cluster: integration.cluster,
      managedNodes: integration.managedNodes,
    });
    store.sweep(t0);
    store.sweep(t0 + STALE_MS);
    await integration.idle();
    expect(store.unreportedStale().map((n) => n.name)).toEqual(['fresh', 'quiet']);
    // `quiet` was Unknown already: not a byte changes (its message keeps when it last reported).
    expect(emu.requestsBy('PATCH', /\/quiet/)).toEqual([]);
    expect(ourCondition(emu, 'quiet')?.message).toBe(
      `no recent report from the node's validator agent since ${iso(reportedAt)}`,
    );
    // `fresh` goes stale now; its message says since when (its last heartbeat), as for a node that
    // reported to this process.
    expect(ourCondition(emu, 'fresh')?.status).toBe('Unknown');
    expect(ourCondition(emu, 'fresh')?.message).toBe(
      `no recent report from the node's validator agent since ${iso(t0 - 10 * 60_000)}`,
    );
  });

  it('nothing happens before the cluster has synced', () => {
    const sink = new RecordingSink();
    let synced = false;
    const cluster: ClusterView = {
      labelsOf: () => undefined,
      runtimeVersionOf: () => undefined,
      nodeNames: () => ['n1'],
      synced: () => synced,
    };
    const store = new NodeStore({
      staleAfterMs: STALE_MS,
      sink,
      cluster,
      managedNodes: () => [{ name: 'n1', role: 'compute', lastHeartbeatMs: undefined }],
    });
    store.sweep(STALE_MS * 10);
    expect(sink.updates).toEqual([]);
    synced = true;
    store.sweep(STALE_MS * 10);
    expect(sink.updates).toEqual([]);
    store.sweep(STALE_MS * 11);
    expect(sink.updates).toEqual([
      { node: 'n1', role: 'compute', verdict: 'unknown', stale: true, result: null },
    ]);
  });

  it('a slow first sync gives agents a full stale-after from it, not from process start', () => {
    const sink = new RecordingSink();
    let synced = false;
    const cluster: ClusterView = {
      labelsOf: () => undefined,
      runtimeVersionOf: () => undefined,
      nodeNames: () => ['healthy', 'dead'],
      synced: () => synced,
    };
    const t0 = Date.now();
    // Both reported (heartbeat) a minute before the restart.
    const heartbeat = t0 - 60_000;
    const store = new NodeStore({
      staleAfterMs: STALE_MS,
      sink,
      cluster,
      managedNodes: () => [
        { name: 'healthy', role: 'gpu', lastHeartbeatMs: heartbeat },
        { name: 'dead', role: 'gpu', lastHeartbeatMs: heartbeat },
      ],
    });
    // The node list takes 20 minutes to sync (API server overloaded): /readyz refuses agents meanwhile.
    store.sweep(t0 + 10 * 60_000);
    const firstSync = t0 + 20 * 60_000;
    synced = true;
    store.sweep(firstSync);
    expect(sink.updates).toEqual([]);
    // Agents back off up to 5 minutes after being refused; `healthy` gets through 6 minutes later.
    store.sweep(firstSync + 5 * 60_000);
    store.accept(sampleReport('healthy'), nodeState('healthy', 'pass').result!, firstSync + 6 * 60_000);
    store.sweep(firstSync + STALE_MS - 1);
    expect(sink.updates.filter((u) => u.verdict === 'unknown')).toEqual([]);
    store.sweep(firstSync + STALE_MS);
    expect(sink.updates.filter((u) => u.verdict === 'unknown')).toEqual([
      { node: 'dead', role: 'gpu', verdict: 'unknown', stale: true, result: null },
    ]);
  });

  it('GET /api/v1/nodes and the summary list such a node as stale with verdict unknown', async () => {
    const cluster: ClusterView = {
      labelsOf: () => undefined,
      runtimeVersionOf: () => undefined,
      nodeNames: () => ['gone-quiet'],
      synced: () => true,
    };
    const store = new NodeStore({
      staleAfterMs: STALE_MS,
      cluster,
      managedNodes: () => [
        { name: 'gone-quiet', role: 'gpu', lastHeartbeatMs: Date.parse('2025-01-01T00:00:00Z') },
      ],
    });
    store.sweep(Date.now() - STALE_MS);
    store.sweep();
    t = await makeApp({ store });
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/nodes' });
    expect(list.statusCode).toBe(200);
    expect(list.json().nodes).toEqual([
      {
        name: 'gone-quiet',
        role: 'gpu',
        verdict: 'unknown',
        failingChecks: [],
        lastReportAt: '2025-01-01T00:00:00.000Z',
        stale: true,
        versions: { driver: null, cuda: null, jetpack: null, containerd: null },
        written: null,
        reason: 'stale since 2025-01-01T00:00:00.000Z',
      },
    ]);
    const stale = await t.app.inject({ method: 'GET', url: '/api/v1/nodes?stale=false' });
    expect(stale.json().nodes).toEqual([]);
    const summary = (await t.app.inject({ method: 'GET', url: '/api/v1/summary' })).json();
    expect(summary.stale).toBe(1);
    expect(summary.byVerdict.unknown).toBe(1);
    expect(summary.byRole.gpu.total).toBe(1);
  });
});

let t: TestApp | undefined;
afterEach(async () => {
  await t?.app.close();
  t = undefined;
});
