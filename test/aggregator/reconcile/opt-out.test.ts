// Per-node opt-outs an operator sets by hand: `<prefix>taint: "false"` (no taint of ours; labels and the
// condition still written; an existing taint of ours removed) and `<prefix>paused: "true"` (nothing written).
import { afterEach, describe, expect, it } from 'vitest';
import { makeNode } from '../../../testing/k8s-emulator/index.js';
import { nodeState } from './helpers.js';
import {
  labels,
  names,
  nodePatches,
  ourCondition,
  startEmulator,
  startIntegration,
  taints,
  waitFor,
} from './k8s-setup.js';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const hasOurTaint = (node: { key: string }[]) => node.some((t) => t.key === names.taintKey);

function annotate(emu: Awaited<ReturnType<typeof startEmulator>>, node: string, key: string, value: string) {
  emu.nodes.mutate(node, (n) => {
    const meta = n['metadata'] as { annotations?: Record<string, string> };
    meta.annotations = { ...meta.annotations, [key]: value };
  });
}

describe('per-node opt-outs (emulator)', () => {
  it('taint: "false" removes our taint and adds none; labels and condition still written', async () => {
    const emu = await startEmulator([makeNode('g1', { labels: { 'node-type': 'gpu' } })]);
    cleanup.push(() => emu.close());
    const { integration } = await startIntegration(emu, { resyncMs: 100 });
    cleanup.push(() => integration.stop());
    integration.sink.update(nodeState('g1', 'fail'));
    await integration.idle();
    expect(hasOurTaint(taints(emu, 'g1'))).toBe(true);
    annotate(emu, 'g1', names.annotations.taint, 'false');
    // No new report: the resync applies it.
    await waitFor(() => !hasOurTaint(taints(emu, 'g1')), 3000, 'our taint removed');
    integration.sink.update(nodeState('g1', 'fail', { checks: undefined }));
    await integration.idle();
    expect(hasOurTaint(taints(emu, 'g1'))).toBe(false);
    expect(labels(emu, 'g1')[names.labels.conformant]).toBe('false');
    expect(ourCondition(emu, 'g1')?.status).toBe('True');
  });

  it('paused: "true" writes nothing to the node, whatever it reports; resumes when removed', async () => {
    const emu = await startEmulator([
      makeNode('g1', { labels: { 'node-type': 'gpu' }, annotations: { [names.annotations.paused]: 'true' } }),
    ]);
    cleanup.push(() => emu.close());
    const { integration } = await startIntegration(emu, { resyncMs: 100 });
    cleanup.push(() => integration.stop());
    integration.sink.update(nodeState('g1', 'fail'));
    await integration.idle();
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(nodePatches(emu, 'g1')).toEqual([]);
    expect(emu.events('default')).toEqual([]);
    annotate(emu, 'g1', names.annotations.paused, 'false');
    await waitFor(() => ourCondition(emu, 'g1')?.status === 'True', 3000, 'writes resumed');
  });
});
