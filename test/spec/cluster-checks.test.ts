import { describe, expect, it } from 'vitest';
import type { Role } from '../../report/schema.js';
import {
  type ClusterCheckInput,
  type ClusterNode,
  clusterCheckResults,
  containerdVersionOfRuntime,
  type ReportedNode,
  type StorageClassInfo,
} from '../../spec/cluster-checks.js';
import { loadSpec } from '../../spec/load.js';
import { DEFAULT_CLUSTER_RULES } from '../../spec/spec-types.js';
import { buildFacts } from './facts-builder.js';

type NodeSpec = { labels?: Record<string, string>; runtime?: string };

function nodes(spec: Record<string, NodeSpec>): ClusterNode[] {
  return Object.entries(spec).map(([name, n]) => ({
    name,
    labels: n.labels ?? {},
    runtimeVersion: n.runtime,
  }));
}

function reported(node: string, role: Role = 'gpu', containerd = '1.7.27'): ReportedNode {
  return {
    node,
    role,
    facts: buildFacts({ containerd: { version: containerd, raw: `containerd v${containerd}` } }),
  };
}

function byId(results: ReturnType<typeof clusterCheckResults>, id: string) {
  const r = results.find((c) => c.id === id);
  if (!r) throw new Error(`no ${id}`);
  return r;
}

type Encryption = NonNullable<ReportedNode['facts']>['apiServerEncryption'];
const PATH = '/etc/kubernetes/enc/config.yaml';
/** What an agent reports for a config encrypting `secrets` with `provider` (every entry evaluated). */
const encryption = (provider: string): Encryption => ({
  manifestFound: true,
  encryptionConfigPath: PATH,
  firstProvider: provider,
  enabled: provider !== 'identity',
  rules: [{ resources: ['secrets'], provider }],
  secrets: { provider, matchedBy: 'secrets' },
  encrypted: provider === 'identity' ? [] : [{ resource: 'secrets', provider }],
});
const cpWith = (name: string, apiServerEncryption: Encryption): ReportedNode => ({
  ...reported(name, 'control-plane'),
  facts: buildFacts({ apiServerEncryption }),
});
const cp = (name: string, enabled: boolean | null): ReportedNode =>
  cpWith(name, enabled === null ? null : encryption(enabled ? 'aescbc' : 'identity'));

describe('cluster checks', () => {
  it('HA, operators, storage class, runtime and encryption all pass', () => {
    const results = clusterCheckResults({
      reports: [cp('cp1', true), cp('cp2', true), reported('op1', 'operator')],
      nodes: nodes({
        cp1: { runtime: 'containerd://1.7.27' },
        cp2: { runtime: 'containerd://v1.7.27' },
        cp3: { labels: { 'node-role.kubernetes.io/control-plane': '' } },
        op1: { runtime: 'containerd://1.7.27' },
      }),
      storageClasses: [
        {
          name: 'fast',
          annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
          provisioner: 'ebs.csi.aws.com',
        },
      ],
      csiDrivers: ['ebs.csi.aws.com'],
    });
    expect(results.map((r) => [r.id, r.status])).toEqual([
      ['cluster.control-plane-ha', 'pass'],
      ['cluster.operator-nodes', 'pass'],
      ['cluster.default-storageclass', 'pass'],
      ['cluster.stable-ips', 'warn'],
      ['cluster.runtime-version', 'pass'],
      ['cluster.etcd-encryption', 'pass'],
    ]);
    expect(byId(results, 'cluster.control-plane-ha').observed).toBe('3 control-plane node(s): cp1, cp2, cp3');
  });

  it('warns, fails and names nodes when things are off', () => {
    const results = clusterCheckResults({
      reports: [cp('cp1', false), reported('g1', 'gpu')],
      nodes: nodes({ cp1: { runtime: 'containerd://1.7.27' }, g1: { runtime: 'containerd://1.6.20' } }),
      storageClasses: [{ name: 'slow', annotations: {}, provisioner: 'rancher.io/local-path' }],
    });
    expect(byId(results, 'cluster.control-plane-ha')).toMatchObject({
      status: 'warn',
      expected: '>= 3 control-plane nodes',
      message: 'high availability is recommended: run 3 or more control-plane nodes',
    });
    expect(byId(results, 'cluster.operator-nodes')).toMatchObject({
      status: 'warn',
      message: 'no backend-operator node found: dedicated nodes labelled node-type=operator are recommended',
      remediation: 'Label at least 1 dedicated node(s) with node-type=operator.',
    });
    expect(byId(results, 'cluster.default-storageclass').status).toBe('fail');
    const rt = byId(results, 'cluster.runtime-version');
    expect(rt.status).toBe('fail');
    expect(rt.message).toContain('g1');
    expect(rt.message).not.toContain('cp1');
    expect(byId(results, 'cluster.etcd-encryption').status).toBe('fail');
  });

  it('encryption never guessed: unknown is a warn saying so', () => {
    const r = byId(
      clusterCheckResults({ reports: [cp('cp1', null)], nodes: null, storageClasses: null }),
      'cluster.etcd-encryption',
    );
    expect(r.status).toBe('warn');
    expect(r.message).toMatch(/^unknown: could not read/);
  });

  it("encryption: secrets decide, every entry is shown; an older agent's first-entry answer is not a pass", () => {
    const run = (e: Encryption) =>
      byId(
        clusterCheckResults({ reports: [cpWith('cp1', e)], nodes: null, storageClasses: null }),
        'cluster.etcd-encryption',
      );
    // events encrypted with aescbc, secrets left as identity: what the first-entry reading called enabled.
    const eventsOnly: Encryption = {
      manifestFound: true,
      encryptionConfigPath: PATH,
      firstProvider: 'aescbc',
      enabled: false,
      rules: [
        { resources: ['events'], provider: 'aescbc' },
        { resources: ['secrets'], provider: 'identity' },
      ],
      secrets: { provider: 'identity', matchedBy: 'secrets' },
      encrypted: [{ resource: 'events', provider: 'aescbc' }],
    };
    expect(run(eventsOnly)).toMatchObject({
      status: 'fail',
      observed: 'not enabled on: cp1 (secrets: identity (by "secrets"); encrypted: events (aescbc))',
    });
    expect(run(encryption('kms'))).toMatchObject({
      status: 'pass',
      observed: 'enabled on: cp1 (secrets: kms (by "secrets"); encrypted: secrets (kms))',
    });
    const unreadable: Encryption = {
      manifestFound: true,
      encryptionConfigPath: PATH,
      firstProvider: null,
      enabled: null,
      unknownReason: `cannot read ${PATH}: EACCES`,
    };
    expect(run(unreadable)).toMatchObject({
      status: 'warn',
      observed: `unknown on: cp1 (unknown: cannot read ${PATH}: EACCES)`,
    });
    const olderAgent: Encryption = {
      manifestFound: true,
      encryptionConfigPath: PATH,
      firstProvider: 'aescbc',
      enabled: true,
    };
    expect(run(olderAgent)).toMatchObject({
      status: 'warn',
      observed: 'unknown on: cp1 (agent too old to read every resources[] entry)',
    });
  });

  it('many operator nodes are fine (no upper limit unless the spec sets one); list errors are errors, skips standalone', () => {
    const ops = ['a', 'b', 'c', 'd', 'e'].map((n) => reported(n, 'operator'));
    const results = clusterCheckResults({
      reports: ops,
      nodes: [],
      storageClasses: null,
      storageClassError: 'forbidden',
    });
    expect(byId(results, 'cluster.operator-nodes')).toMatchObject({
      status: 'pass',
      expected: 'at least 1 backend-operator nodes (label node-type=operator)',
    });
    const capped = clusterCheckResults({
      reports: ops,
      nodes: [],
      storageClasses: [],
      rules: { ...DEFAULT_CLUSTER_RULES, operatorNodes: { minNodes: 1, maxNodes: 3 } },
    });
    expect(byId(capped, 'cluster.operator-nodes')).toMatchObject({
      status: 'warn',
      message: 'more than 3 backend-operator nodes: 1 to 3 are recommended',
    });
    expect(byId(results, 'cluster.default-storageclass')).toMatchObject({
      status: 'error',
      message: 'could not list StorageClasses: forbidden',
    });
    const standalone = clusterCheckResults({ reports: ops, nodes: null, storageClasses: null });
    expect(byId(standalone, 'cluster.default-storageclass').status).toBe('skip');
    expect(byId(standalone, 'cluster.stable-ips').status).toBe('skip');
  });

  it('default StorageClass: dynamic provisioning (CSIDriver or a known provisioner) passes, else warns', () => {
    const sc = (name: string, provisioner: string, isDefault = true): StorageClassInfo => ({
      name,
      provisioner,
      annotations: isDefault ? { 'storageclass.kubernetes.io/is-default-class': 'true' } : {},
    });
    const run = (storageClasses: StorageClassInfo[], csiDrivers: string[] | null, csiDriverError?: string) =>
      byId(
        clusterCheckResults({ reports: [], nodes: [], storageClasses, csiDrivers, csiDriverError }),
        'cluster.default-storageclass',
      );
    expect(run([sc('local', 'kubernetes.io/no-provisioner')], ['ebs.csi.aws.com'])).toMatchObject({
      status: 'warn',
      observed: 'default: local (kubernetes.io/no-provisioner)',
      message: expect.stringContaining(
        'does not provision volumes dynamically (local: kubernetes.io/no-provisioner)',
      ),
    });
    expect(run([sc('ceph', 'rbd.csi.ceph.com')], ['rbd.csi.ceph.com']).status).toBe('pass');
    expect(run([sc('ceph', 'rbd.csi.ceph.com')], [])).toMatchObject({
      status: 'warn',
      message: expect.stringContaining('ceph: no CSIDriver rbd.csi.ceph.com'),
    });
    expect(run([sc('lp', 'rancher.io/local-path')], []).status).toBe('pass');
    expect(run([sc('ceph', 'rbd.csi.ceph.com')], null, 'forbidden')).toMatchObject({
      status: 'warn',
      message: expect.stringContaining('could not list CSIDrivers (forbidden)'),
    });
    // A dynamic class that is not the default does not count.
    expect(run([sc('ceph', 'rbd.csi.ceph.com', false)], ['rbd.csi.ceph.com']).status).toBe('fail');
  });

  it('stable IPs: every node has its own InternalIP', () => {
    const run = (n: ClusterNode[]) =>
      byId(clusterCheckResults({ reports: [], nodes: n, storageClasses: [] }), 'cluster.stable-ips');
    const node = (name: string, internalIPs: string[]): ClusterNode => ({ name, labels: {}, internalIPs });
    expect(run([node('a', ['10.0.0.1']), node('b', ['10.0.0.2', 'fd00::2'])])).toMatchObject({
      status: 'pass',
      observed: '2 node(s), each with its own InternalIP',
    });
    expect(run([node('a', ['10.0.0.1']), node('b', ['10.0.0.1']), node('c', [])])).toMatchObject({
      status: 'warn',
      observed: 'no InternalIP: c; shared InternalIP 10.0.0.1: a, b',
    });
  });

  it('node-type=operator labels count as operator nodes; a node without a result has no facts to compare', () => {
    const results = clusterCheckResults({
      reports: [{ node: 'quiet', role: 'compute', facts: null }],
      nodes: nodes({
        op1: { labels: { 'node-type': 'operator' } },
        quiet: { runtime: 'containerd://1.7.27' },
      }),
      storageClasses: [],
    });
    expect(byId(results, 'cluster.operator-nodes')).toMatchObject({
      status: 'pass',
      observed: '1 operator node(s): op1',
    });
    expect(byId(results, 'cluster.runtime-version').status).toBe('skip');
  });

  it('reads containerd versions from the kubelet runtime string', () => {
    expect(containerdVersionOfRuntime('containerd://1.7.27')).toBe('1.7.27');
    expect(containerdVersionOfRuntime('containerd://v2.0.1-k3s1')).toBe('2.0.1');
    expect(containerdVersionOfRuntime('cri-o://1.30.0')).toBeUndefined();
  });
});

describe('cluster check thresholds (the spec cluster: section)', () => {
  const cps = (n: number) => Array.from({ length: n }, (_, i) => cp(`cp${i}`, true));
  const run = (input: Omit<ClusterCheckInput, 'storageClasses' | 'nodes'>, id: string) =>
    byId(clusterCheckResults({ ...input, nodes: [], storageClasses: [] }), id);

  it('the control-plane minimum comes from the rules, in the message too', () => {
    const rules = { ...DEFAULT_CLUSTER_RULES, controlPlaneHa: { minNodes: 5 } };
    expect(run({ reports: cps(3) }, 'cluster.control-plane-ha').status).toBe('pass');
    expect(run({ reports: cps(3), rules }, 'cluster.control-plane-ha')).toMatchObject({
      status: 'warn',
      expected: '>= 5 control-plane nodes',
      message: 'high availability is recommended: run 5 or more control-plane nodes',
      remediation: 'Add control-plane nodes so that 5 or more run (an odd number keeps etcd quorum).',
    });
    const single = { ...DEFAULT_CLUSTER_RULES, controlPlaneHa: { minNodes: 1 } };
    expect(run({ reports: cps(1), rules: single }, 'cluster.control-plane-ha').status).toBe('pass');
  });

  it('the operator range comes from the rules', () => {
    const ops = (n: number) => Array.from({ length: n }, (_, i) => reported(`op${i}`, 'operator'));
    const rules = { ...DEFAULT_CLUSTER_RULES, operatorNodes: { minNodes: 2, maxNodes: 5 } };
    expect(run({ reports: ops(1), rules }, 'cluster.operator-nodes')).toMatchObject({
      status: 'warn',
      expected: '2 to 5 backend-operator nodes (label node-type=operator)',
      message: 'fewer than 2 backend-operator nodes: 2 to 5 are recommended',
    });
    expect(run({ reports: ops(4), rules }, 'cluster.operator-nodes').status).toBe('pass');
    expect(run({ reports: ops(6), rules }, 'cluster.operator-nodes').message).toBe(
      'more than 5 backend-operator nodes: 2 to 5 are recommended',
    );
    const optional = { ...DEFAULT_CLUSTER_RULES, operatorNodes: { minNodes: 0, maxNodes: 2 } };
    expect(run({ reports: [], rules: optional }, 'cluster.operator-nodes')).toMatchObject({
      status: 'pass',
      message: 'no backend-operator node, and none is required',
    });
  });

  it('the built-in baseline states the default numbers', async () => {
    expect((await loadSpec()).cluster).toEqual(DEFAULT_CLUSTER_RULES);
  });
});
