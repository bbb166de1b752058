// Ownership is what we wrote: a taint or label with our key that our ownership annotations do not record is
// foreign — never adopted, rewritten or removed — and reported (node view, metric).
import { afterEach, describe, expect, it } from 'vitest';
import { makeNode } from '../../../testing/k8s-emulator/index.js';
import { nodeState } from './helpers.js';
import {
  annotations,
  labels,
  metricValue,
  names,
  ourCondition,
  startEmulator,
  startIntegration,
  taints,
} from './k8s-setup.js';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('foreign objects with our keys (emulator)', () => {
  it("an operator's NoExecute taint with our key is not adopted, rewritten or removed", async () => {
    const operatorTaint = { key: names.taintKey, value: 'maintenance', effect: 'NoExecute' as const };
    const emu = await startEmulator([
      makeNode('g1', {
        labels: { 'node-type': 'gpu', [names.labels.driverVersion]: 'pinned-by-hand' },
        taints: [operatorTaint],
      }),
    ]);
    cleanup.push(() => emu.close());
    const { integration, registry } = await startIntegration(emu, { resyncMs: 0 });
    cleanup.push(() => integration.stop());
    integration.sink.update(nodeState('g1', 'fail'));
    await integration.idle();
    expect(taints(emu, 'g1')).toEqual([operatorTaint]);
    expect(annotations(emu, 'g1')[names.annotations.managedTaints]).toBeUndefined();
    expect(ourCondition(emu, 'g1')?.status).toBe('True');
    expect(labels(emu, 'g1')[names.labels.driverVersion]).toBe('pinned-by-hand');
    expect(JSON.parse(annotations(emu, 'g1')[names.annotations.managedLabels] ?? '[]')).not.toContain(
      names.labels.driverVersion,
    );
    integration.sink.update(nodeState('g1', 'pass'));
    await integration.idle();
    expect(taints(emu, 'g1')).toEqual([operatorTaint]);
    expect(labels(emu, 'g1')[names.labels.driverVersion]).toBe('pinned-by-hand');
    expect(integration.nodeStatus('g1').foreign).toEqual({
      labels: [names.labels.driverVersion],
      taints: [`${names.taintKey}=maintenance:NoExecute`],
    });
    expect(await metricValue(registry, 'osmo_validator_foreign_objects', { kind: 'taint' })).toBe(1);
    expect(await metricValue(registry, 'osmo_validator_foreign_objects', { kind: 'label' })).toBe(1);
  });
});
