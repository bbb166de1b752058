// Equal check outcomes of different nodes are one shared, frozen object (and an equal list of them one
// list); different outcomes stay apart; the tables are bounded.
import { describe, expect, it } from 'vitest';
import { OutcomeInterner } from '../../../aggregator/server/outcome-interner.js';
import { createSpecEvaluator } from '../../../aggregator/server/spec-evaluator.js';
import type { CheckResult } from '../../../report/schema.js';
import { failingCheckIds } from '../../../spec/failing-checks.js';
import { loadSpec } from '../../../spec/load.js';
import { GIB, sampleFacts, sampleReport } from '../../agent/sample.js';

const baseline = await loadSpec();
const labels = { 'node-type': 'compute' };

const check = (id: string, message = 'ok'): CheckResult => ({
  id,
  status: 'pass',
  observed: '1',
  expected: '≥ 1',
  message,
  remediation: null,
  source: null,
});

function reportFor(node: string, facts = sampleFacts({ hostname: node })) {
  return { ...sampleReport(facts), node };
}

describe('check outcomes shared between nodes', () => {
  it('two nodes with the same facts share every check object and the list, frozen', () => {
    const evaluator = createSpecEvaluator(baseline);
    const a = evaluator.evaluate(reportFor('node-a'), labels);
    const b = evaluator.evaluate(reportFor('node-b'), labels);
    expect(a.checks.length).toBeGreaterThan(5);
    expect(b.checks).toBe(a.checks);
    for (const c of a.checks) expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(a.checks)).toBe(true);
    // The results themselves are each node's own.
    expect(a.node).toBe('node-a');
    expect(b.node).toBe('node-b');
    expect(() => {
      (a.checks[0] as { message: string }).message = 'changed';
    }).toThrow(TypeError);
  });

  it('a node with a different outcome gets its own check, the equal ones stay shared', () => {
    const evaluator = createSpecEvaluator(baseline);
    const a = evaluator.evaluate(reportFor('node-a'), labels);
    const fuller = sampleFacts({
      hostname: 'node-c',
      disks: [{ path: '/', capacityBytes: 500 * GIB, freeBytes: 200 * GIB }],
    });
    const c = evaluator.evaluate(reportFor('node-c', fuller), labels);
    expect(c.checks).not.toBe(a.checks);
    const memoryA = a.checks.find((x) => x.id === 'disk.filling');
    const memoryC = c.checks.find((x) => x.id === 'disk.filling');
    expect(memoryC).not.toBe(memoryA);
    expect(memoryC?.observed).not.toBe(memoryA?.observed);
    const others = a.checks.filter((x) => x.id !== 'disk.filling');
    for (const x of others) expect(c.checks.find((y) => y.id === x.id)).toBe(x);
  });

  it('keeps each outcome as evaluated (every field, in order)', () => {
    const interner = new OutcomeInterner();
    const original = [check('a'), { ...check('b'), observed: null, remediation: 'fix it' }];
    const shared = interner.checks(original);
    expect(shared).toEqual(original);
    // null and a string that could stand for it are different outcomes.
    expect(interner.outcome({ ...check('x'), observed: null })).not.toBe(interner.outcome(check('x')));
    expect(interner.outcome({ ...check('x'), observed: null })).toEqual({ ...check('x'), observed: null });
  });

  it('a shared list carries its failing ids, listed once for every node that shares it', () => {
    const interner = new OutcomeInterner();
    const failing = (id: string): CheckResult => ({ ...check(id), status: 'fail' });
    const list = interner.checks([check('a'), failing('b')]);
    const ids = failingCheckIds(list);
    expect(ids).toEqual(['b']);
    expect(failingCheckIds(interner.checks([check('a'), failing('b')]))).toBe(ids);
  });

  it('is bounded: past its size it starts over, and results stay correct', () => {
    const interner = new OutcomeInterner();
    for (let i = 0; i < 10_000; i++) interner.checks([check('disk', `free ${i}`)]);
    expect(interner.size.outcomes).toBeLessThanOrEqual(4096);
    expect(interner.size.lists).toBeLessThanOrEqual(1024);
    expect(interner.checks([check('disk', 'free 9999')])).toEqual([check('disk', 'free 9999')]);
  });
});
