// A gpu/jetson probe error must not change a node's role: the role derived from facts would be `compute`
// (facts.gpu is null after an nvidia-smi timeout), which moves the node to another pool and taints it.
import { afterEach, describe, expect, it } from 'vitest';
import { createSpecEvaluator, decideRole } from '../../../aggregator/server/spec-evaluator.js';
import { NodeStore } from '../../../aggregator/store.js';
import type { Report } from '../../../report/schema.js';
import { loadSpec } from '../../../spec/load.js';
import { makeApp, postReport, RecordingSink, sampleReport, type TestApp } from '../harness.js';

const ROLE_LABEL = 'validator.osmo.nvidia.com/role';

function gpuReport(node: string): Report {
  const base = sampleReport(node);
  return {
    ...base,
    facts: {
      ...base.facts,
      gpu: {
        driverVersion: '535.216.03',
        cudaVersion: '12.6',
        devices: [{ name: 'NVIDIA A100', uuid: 'GPU-1', memoryMiB: 81920, pciBusId: null, migMode: null }],
        containerToolkit: null,
      },
    },
  };
}

function probeErrorReport(node: string, probe: 'gpu' | 'jetson' = 'gpu'): Report {
  return sampleReport(node, {
    probeErrors: [{ probe, kind: 'timeout', message: 'nvidia-smi did not finish within 10 s' }],
  });
}

let t: TestApp | undefined;
afterEach(async () => {
  await t?.app.close();
  t = undefined;
});

describe('role when the gpu or jetson probe errored', () => {
  it('keeps the previous role through the API and tells the sink the same role', async () => {
    const spec = await loadSpec();
    const sink = new RecordingSink();
    const store = new NodeStore({ staleAfterMs: 60_000, sink });
    const evaluator = createSpecEvaluator(spec, { previousRole: (n) => store.get(n)?.result.role });
    t = await makeApp({ store, evaluator });
    expect((await postReport(t.app, gpuReport('g1'))).json().role).toBe('gpu');
    const res = await postReport(t.app, probeErrorReport('g1'));
    expect(res.statusCode).toBe(202);
    expect(res.json().role).toBe('gpu');
    expect(store.get('g1')?.result.roleSource).toBe('previous (gpu probe error)');
    expect(sink.updates.map((u) => u.role)).toEqual(['gpu', 'gpu']);
    // The probe error itself still fails the node (the driver check is an error, not a pass).
    expect(store.get('g1')?.result.checks.find((c) => c.id === 'gpu.driver')?.status).toBe('error');
  });

  it('without a previous evaluation, keeps the role our own role label records', async () => {
    const spec = await loadSpec();
    const evaluator = createSpecEvaluator(spec, { previousRole: () => undefined, roleLabel: ROLE_LABEL });
    const result = evaluator.evaluate(probeErrorReport('g1', 'jetson'), { [ROLE_LABEL]: 'gpu' });
    expect(result.role).toBe('gpu');
    expect(result.roleSource).toBe('previous (jetson probe error)');
  });

  it('labels naming a role still win, and facts decide when nothing is known or nothing errored', () => {
    const report = probeErrorReport('c1');
    expect(decideRole(report, { 'node-type': 'operator' }, { previousRole: () => 'gpu' }).role).toBe(
      'operator',
    );
    expect(decideRole(report, {}, { previousRole: () => undefined, roleLabel: ROLE_LABEL })).toMatchObject({
      role: 'compute',
      source: 'facts',
    });
    // A garbage value in our label is not a role.
    expect(decideRole(report, { [ROLE_LABEL]: 'constructor' }, { roleLabel: ROLE_LABEL }).role).toBe(
      'compute',
    );
    // No probe error: the GPU really went away → compute.
    expect(decideRole(sampleReport('c1'), {}, { previousRole: () => 'gpu' }).role).toBe('compute');
  });
});
