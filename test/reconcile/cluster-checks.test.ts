import { describe, expect, it } from 'vitest';
import type { ClusterView, NodeState } from '../../aggregator/contracts.js';
import {
  clusterCheckResults,
  containerdVersionOfRuntime,
} from '../../aggregator/reconcile/cluster-checks.js';
import { facts, nodeState } from './helpers.js';

function view(nodes: Record<string, { labels?: Record<string, string>; runtime?: string }>): ClusterView {
  return {
    labelsOf: (n) => nodes[n]?.labels,
    runtimeVersionOf: (n) => nodes[n]?.runtime,
    nodeNames: () => Object.keys(nodes),
    synced: () => true,
  };
}

function byId(results: ReturnType<typeof clusterCheckResults>, id: string) {
  const r = results.find((c) => c.id === id);
  if (!r) throw new Error(`no ${id}`);
  return r;
}

describe('cluster checks', () => {
  const cp = (name: string, enabled: boolean | null) =>
    nodeState(name, 'pass', {
      role: 'control-plane',
      facts: facts({
        apiServerEncryption:
          enabled === null
            ? null
            : { manifestFound: true, encryptionConfigPath: null, firstProvider: null, enabled },
      }),
    });

  it('HA, operators, storage class, runtime and encryption all pass', () => {
    const states: NodeState[] = [
      cp('cp1', true),
      cp('cp2', true),
      nodeState('op1', 'pass', { role: 'operator' }),
    ];
    const results = clusterCheckResults({
      states,
      cluster: view({
        cp1: { runtime: 'containerd://1.7.27' },
        cp2: { runtime: 'containerd://v1.7.27' },
        cp3: { labels: { 'node-role.kubernetes.io/control-plane': '' } },
        op1: { runtime: 'containerd://1.7.27' },
      }),
      storageClasses: [
        { name: 'fast', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
      ],
    });
    expect(results.map((r) => [r.id, r.status])).toEqual([
      ['cluster.control-plane-ha', 'pass'],
      ['cluster.operator-nodes', 'pass'],
      ['cluster.default-storageclass', 'pass'],
      ['cluster.runtime-version', 'pass'],
      ['cluster.etcd-encryption', 'pass'],
    ]);
  });

  it('warns, fails and names nodes when things are off', () => {
    const states: NodeState[] = [cp('cp1', false), nodeState('g1', 'pass')];
    const results = clusterCheckResults({
      states,
      cluster: view({ cp1: { runtime: 'containerd://1.7.27' }, g1: { runtime: 'containerd://1.6.20' } }),
      storageClasses: [{ name: 'slow', annotations: {} }],
    });
    expect(byId(results, 'cluster.control-plane-ha').status).toBe('warn');
    expect(byId(results, 'cluster.operator-nodes').status).toBe('warn');
    expect(byId(results, 'cluster.default-storageclass').status).toBe('fail');
    const rt = byId(results, 'cluster.runtime-version');
    expect(rt.status).toBe('fail');
    expect(rt.message).toContain('g1');
    expect(rt.message).not.toContain('cp1');
    expect(byId(results, 'cluster.etcd-encryption').status).toBe('fail');
  });

  it('encryption never guessed: unknown is a warn saying so', () => {
    const r = byId(
      clusterCheckResults({ states: [cp('cp1', null)], cluster: null, storageClasses: null }),
      'cluster.etcd-encryption',
    );
    expect(r.status).toBe('warn');
    expect(r.message).toMatch(/^unknown: could not read/);
  });

  it('too many operator nodes is a warning; storage class list errors are errors', () => {
    const ops = ['a', 'b', 'c', 'd'].map((n) => nodeState(n, 'pass', { role: 'operator' }));
    const results = clusterCheckResults({
      states: ops,
      cluster: view({}),
      storageClasses: null,
      storageClassError: 'forbidden',
    });
    expect(byId(results, 'cluster.operator-nodes').status).toBe('warn');
    expect(byId(results, 'cluster.default-storageclass')).toMatchObject({ status: 'error' });
  });

  it('reads containerd versions from the kubelet runtime string', () => {
    expect(containerdVersionOfRuntime('containerd://1.7.27')).toBe('1.7.27');
    expect(containerdVersionOfRuntime('containerd://v2.0.1-k3s1')).toBe('2.0.1');
    expect(containerdVersionOfRuntime('cri-o://1.30.0')).toBeUndefined();
  });
});
