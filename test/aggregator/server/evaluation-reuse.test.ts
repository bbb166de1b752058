// A report with the same inputs as the node's last one reuses its evaluation; anything that evaluation
// read changing (facts, probe errors, labels, the spec in force) makes it evaluate again.
import { describe, expect, it } from 'vitest';
import { createSpecEvaluator } from '../../../aggregator/server/spec-evaluator.js';
import { loadSpec, parseSpec } from '../../../spec/load.js';
import { sampleFacts, sampleReport } from '../../agent/sample.js';

const baseline = await loadSpec();
const labels = { 'node-type': 'compute' };

function setup() {
  const evaluator = createSpecEvaluator(baseline);
  const report = sampleReport();
  const result = evaluator.evaluate(report, labels);
  // Without reuse every `reuse?.()` below is undefined: the negative tests would pass vacuously.
  expect(evaluator.reuse).toBeDefined();
  return { evaluator, report, previous: { report, result } };
}

describe('evaluation reuse', () => {
  it('the same facts, probe errors, labels and spec reuse the result with fresh timestamps', () => {
    const { evaluator, previous } = setup();
    const again = { ...sampleReport(), collectedAt: '2030-01-01T00:00:00.000Z' };
    const reused = evaluator.reuse?.(previous, again, { ...labels });
    expect(reused).toBeDefined();
    expect(reused?.checks).toEqual(previous.result.checks);
    expect(reused?.verdict).toBe(previous.result.verdict);
    expect(reused?.collectedAt).toBe('2030-01-01T00:00:00.000Z');
    // And a reused result can itself be reused next time.
    expect(evaluator.reuse?.({ report: again, result: reused! }, again, labels)).toBeDefined();
  });

  it('changed facts are evaluated again', () => {
    const { evaluator, previous } = setup();
    const facts = sampleFacts();
    const changed = sampleReport({ ...facts, memory: { totalBytes: 1 } });
    expect(evaluator.reuse?.(previous, changed, labels)).toBeUndefined();
  });

  it('changed probe errors are evaluated again', () => {
    const { evaluator, previous } = setup();
    const changed = sampleReport(sampleFacts(), [
      { probe: 'gpu', kind: 'timeout', message: 'nvidia-smi hung' },
    ]);
    expect(evaluator.reuse?.(previous, changed, labels)).toBeUndefined();
  });

  it('changed node labels are evaluated again', () => {
    const { evaluator, previous, report } = setup();
    expect(evaluator.reuse?.(previous, report, { 'node-type': 'gpu' })).toBeUndefined();
    expect(evaluator.reuse?.(previous, report, undefined)).toBeUndefined();
  });

  it('a new spec in force is evaluated again', async () => {
    const { evaluator, previous, report } = setup();
    const text = (await import('node:fs')).readFileSync(
      new URL('../../../spec/baseline.yaml', import.meta.url),
      'utf8',
    );
    evaluator.setSpec(parseSpec(text.replace('revision: "2025.1"', 'revision: "2025.2"'), 'edited.yaml'));
    expect(evaluator.reuse?.(previous, report, labels)).toBeUndefined();
  });

  // The app never asks (its store is per node); the guard keeps reuse correct for any caller.
  it('another node never reuses this node’s result', () => {
    const { evaluator, previous } = setup();
    const other = { ...sampleReport(), node: 'another-node' };
    expect(evaluator.reuse?.(previous, other, labels)).toBeUndefined();
  });
});
