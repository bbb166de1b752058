import { describe, expect, it } from 'vitest';
import { applyJsonPatch, JsonPatchError } from '../../../testing/k8s-emulator/json-patch.js';
import { applyMergePatch } from '../../../testing/k8s-emulator/merge-patch.js';
import { parseLabelSelector } from '../../../testing/k8s-emulator/selectors.js';
import { applyStrategicMergePatch, NODE_MERGE_KEYS } from '../../../testing/k8s-emulator/strategic-merge.js';

describe('merge patch (RFC 7386 examples)', () => {
  it.each([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
  ])('%j + %j', (target, patch, expected) => {
    expect(applyMergePatch(target, patch)).toEqual(expected);
  });
});

describe('JSON patch (RFC 6902)', () => {
  it('adds, removes, moves, copies and appends', () => {
    const doc = { a: { b: [1, 2] }, 'x/y': 1 };
    const out = applyJsonPatch(doc, [
      { op: 'add', path: '/a/b/-', value: 3 },
      { op: 'add', path: '/a/b/0', value: 0 },
      { op: 'remove', path: '/x~1y' },
      { op: 'copy', from: '/a/b', path: '/c' },
      { op: 'move', from: '/c', path: '/d' },
      { op: 'test', path: '/d/3', value: 3 },
    ]);
    expect(out).toEqual({ a: { b: [0, 1, 2, 3] }, d: [0, 1, 2, 3] });
    expect(doc).toEqual({ a: { b: [1, 2] }, 'x/y': 1 });
  });

  it('fails atomically: a failed test or a missing path throws, malformed documents are marked', () => {
    expect(() => applyJsonPatch({ a: 1 }, [{ op: 'test', path: '/a', value: 2 }])).toThrow(/test failed/);
    expect(() => applyJsonPatch({ a: 1 }, [{ op: 'replace', path: '/b', value: 2 }])).toThrow(JsonPatchError);
    expect(() => applyJsonPatch({ a: 1 }, [{ op: 'remove', path: '/a/b/c' }])).toThrow(JsonPatchError);
    let caught: unknown;
    try {
      applyJsonPatch({}, { op: 'add' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(JsonPatchError);
    expect((caught as JsonPatchError).malformed).toBe(true);
  });
});

describe('strategic merge patch for Node', () => {
  const node = {
    metadata: { labels: { a: '1', b: '2' }, finalizers: ['x'] },
    spec: { taints: [{ key: 'k1', effect: 'NoSchedule' }] },
    status: {
      conditions: [
        { type: 'Ready', status: 'True', reason: 'KubeletReady' },
        { type: 'Mine', status: 'False', reason: 'Ok' },
      ],
    },
  };

  it('merges maps, deletes with null, replaces taints, merges conditions by type', () => {
    const out = applyStrategicMergePatch(
      node,
      {
        metadata: { labels: { a: null, c: '3' }, finalizers: ['y'] },
        spec: { taints: [{ key: 'k2', effect: 'NoExecute' }] },
        status: {
          conditions: [
            { type: 'Mine', status: 'True', reason: null },
            { type: 'New', status: 'True' },
          ],
        },
      },
      NODE_MERGE_KEYS,
    );
    expect(out).toEqual({
      metadata: { labels: { b: '2', c: '3' }, finalizers: ['x', 'y'] },
      spec: { taints: [{ key: 'k2', effect: 'NoExecute' }] },
      status: {
        conditions: [
          { type: 'Ready', status: 'True', reason: 'KubeletReady' },
          { type: 'Mine', status: 'True' },
          { type: 'New', status: 'True' },
        ],
      },
    });
  });

  it('honours $patch replace on a list and $deleteFromPrimitiveList', () => {
    const out = applyStrategicMergePatch(
      node,
      {
        metadata: { '$deleteFromPrimitiveList/finalizers': ['x'] },
        status: { conditions: [{ $patch: 'replace' }, { type: 'Only', status: 'True' }] },
        '$setElementOrder/status': [],
      },
      NODE_MERGE_KEYS,
    ) as { metadata: { finalizers: string[] }; status: { conditions: unknown[] } };
    expect(out.metadata.finalizers).toEqual([]);
    expect(out.status.conditions).toEqual([{ type: 'Only', status: 'True' }]);
  });
});

describe('label selectors', () => {
  const obj = (labels: Record<string, string>) => ({ metadata: { labels } });
  it.each([
    ['a=1', { a: '1' }, true],
    ['a==1', { a: '2' }, false],
    ['a!=1', {}, true],
    ['a', { a: '' }, true],
    ['!a', { a: '' }, false],
    ['a in (1, 2),b notin (3)', { a: '2', b: '4' }, true],
    ['a in (1,2)', { b: '1' }, false],
    ['a notin (1)', {}, true],
  ])('%s on %j → %s', (sel, labels, want) => {
    expect(parseLabelSelector(sel)!(obj(labels))).toBe(want);
  });
});
