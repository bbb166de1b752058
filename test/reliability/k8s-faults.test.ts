// Kubernetes API faults not already covered by test/aggregator/reconcile/k8s-faults.test.ts: 500 storms, slow
// answers across many nodes, the API unreachable when the aggregator starts, and missing data (a probe
// error) never removing what we wrote before. Real client-node against the emulator.
import { afterEach, describe, expect, it } from 'vitest';
import { makeNode } from '../../testing/k8s-emulator/index.js';
import { facts, nodeState } from '../aggregator/reconcile/helpers.js';
import {
  labels,
  names,
  ourCondition,
  startEmulator,
  startIntegration,
  taints,
  waitFor,
} from '../aggregator/reconcile/k8s-setup.js';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const gpu = (name: string) => makeNode(name, { labels: { 'node-type': 'gpu', team: 'vision' }, taints: [] });
const ourTaint = (node: { key: string }[]) => node.some((t) => t.key === names.taintKey);

async function setup(
  nodes: ReturnType<typeof makeNode>[],
  options: Parameters<typeof startIntegration>[1] = {},
) {
  const emu = await startEmulator(nodes);
  cleanup.push(() => emu.close());
  // The guards are tested on their own: here every node must converge to its verdict.
  const it = await startIntegration(emu, { maxTaintedPercent: 100, guardMaxPercent: 100, ...options });
  cleanup.push(() => it.integration.stop());
  return { emu, ...it };
}

function expectConverged(
  emu: Awaited<ReturnType<typeof startEmulator>>,
  node: string,
  verdict: 'pass' | 'fail',
): void {
  expect(labels(emu, node)[names.labels.conformant]).toBe(verdict === 'fail' ? 'false' : 'true');
  expect(labels(emu, node)['team']).toBe('vision');
  expect(ourTaint(taints(emu, node))).toBe(verdict === 'fail');
  expect(ourCondition(emu, node)?.status).toBe(verdict === 'fail' ? 'True' : 'False');
}

describe('Kubernetes API faults', () => {
  it('500s on node and status patches: retried with backoff, then correct', async () => {
    const { emu, integration } = await setup([gpu('g1')]);
    const main = emu.inject({ method: 'PATCH', path: '/api/v1/nodes/g1', status: 500, times: 4 });
    const status = emu.inject({ method: 'PATCH', path: '/api/v1/nodes/g1/status', status: 503, times: 2 });
    integration.sink.update(nodeState('g1', 'fail'));
    await waitFor(() => main.hits === 4 && status.hits === 2, 8000, 'faults consumed');
    await integration.idle(8000);
    expectConverged(emu, 'g1', 'fail');
  });

  it('slow answers, 500s, 429s and 409s mixed over 20 nodes: every node converges to its verdict', async () => {
    const nodes = Array.from({ length: 20 }, (_, i) => gpu(`n${i}`));
    const { emu, integration } = await setup(nodes);
    emu.inject({ method: 'PATCH', path: /^\/api\/v1\/nodes\/n\d+$/, delayMs: 150, times: 10 });
    emu.inject({ method: 'PATCH', path: /^\/api\/v1\/nodes\/n1\d$/, status: 500, times: 6 });
    emu.inject({ method: 'PATCH', path: /\/status$/, status: 429, retryAfterSeconds: 0, times: 5 });
    emu.conflictOnFirstTry(5);
    const verdict = (i: number) => (i % 3 === 0 ? 'fail' : 'pass');
    for (let i = 0; i < 20; i++) integration.sink.update(nodeState(`n${i}`, verdict(i)));
    await integration.idle(15_000);
    for (let i = 0; i < 20; i++) expectConverged(emu, `n${i}`, verdict(i));
  });

  it('API unreachable when the aggregator starts: not ready, no crash; ready and correct once it is back', async () => {
    const emu = await startEmulator([gpu('g1')]);
    cleanup.push(() => emu.close());
    emu.setUnreachable(true);
    const { integration } = await startIntegration(emu, { maxTaintedPercent: 100 });
    cleanup.push(() => integration.stop());
    expect(integration.ready()).toMatchObject({ ok: false });
    expect(integration.ready().reason).toMatch(/not synced/);
    emu.setUnreachable(false);
    await waitFor(() => integration.ready().ok, 10_000, 'informer synced after the API came back');
    integration.sink.update(nodeState('g1', 'fail'));
    await integration.idle(8000);
    expectConverged(emu, 'g1', 'fail');
  });

  it('a report arriving while the API is unreachable is applied once it is back', async () => {
    const { emu, integration } = await setup([gpu('g1')]);
    emu.setUnreachable(true);
    integration.sink.update(nodeState('g1', 'fail'));
    // Several failed attempts while the API is gone (backoff base 20 ms in the fixture).
    await new Promise((resolve) => setTimeout(resolve, 300));
    emu.setUnreachable(false);
    await waitFor(
      () => labels(emu, 'g1')[names.labels.conformant] === 'false',
      10_000,
      'labels written after the outage',
    );
    await integration.idle(8000);
    expectConverged(emu, 'g1', 'fail');
  });

  it('missing data keeps the taint: a GPU probe error, then silence (unknown), remove nothing', async () => {
    const { emu, integration } = await setup([gpu('g1')]);
    integration.sink.update(nodeState('g1', 'fail'));
    await integration.idle();
    expect(ourTaint(taints(emu, 'g1'))).toBe(true);
    integration.sink.update(gpuProbeError());
    await integration.idle();
    expect(ourTaint(taints(emu, 'g1'))).toBe(true);
    expect(labels(emu, 'g1')[names.labels.conformant]).toBe('false');
    integration.sink.update(nodeState('g1', 'fail', { stale: true }));
    await integration.idle();
    expect(labels(emu, 'g1')[names.labels.conformant]).toBe('unknown');
    expect(ourTaint(taints(emu, 'g1'))).toBe(true);
    expect(ourCondition(emu, 'g1')?.status).toBe('Unknown');
  });

  it('missing data keeps informative labels: a GPU probe error does not remove driver-version', async () => {
    const { emu, integration } = await setup([gpu('g1')]);
    integration.sink.update(nodeState('g1', 'pass'));
    await integration.idle();
    expect(labels(emu, 'g1')[names.labels.driverVersion]).toBe('535.216.03');
    integration.sink.update(gpuProbeError());
    await integration.idle();
    // nvidia-smi timing out says nothing about the driver: the last known version stays.
    expect(labels(emu, 'g1')[names.labels.driverVersion]).toBe('535.216.03');
    expect(labels(emu, 'g1')[names.labels.cudaVersion]).toBe('12.2');
  });
});

/** The next report of g1: nvidia-smi timed out, so there are no GPU facts at all (verdict fail: error). */
function gpuProbeError() {
  const state = nodeState('g1', 'fail', { facts: facts({ gpu: null }) });
  state.result!.probeErrors = [{ probe: 'gpu', kind: 'timeout', message: 'gpu did not finish within 15s' }];
  return state;
}
