import { afterEach, describe, expect, it } from 'vitest';
import { STORAGE_CLASS_TTL_MS } from '../../../aggregator/k8s/storage-classes.js';
import { type K8sEmulator, makeNode } from '../../../testing/k8s-emulator/index.js';
import { facts, nodeState } from './helpers.js';
import {
  annotations,
  conditions,
  labels,
  names,
  nodePatches,
  ourCondition,
  startEmulator,
  startIntegration,
  taints,
} from './k8s-setup.js';

const P = names.labelPrefix;
let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(nodes = [gpuNode('g1')], options: Parameters<typeof startIntegration>[1] = {}) {
  const emu = await startEmulator(nodes);
  cleanup.push(() => emu.close());
  const it = await startIntegration(emu, options);
  cleanup.push(() => it.integration.stop());
  return { emu, ...it };
}

function gpuNode(name: string) {
  return makeNode(name, {
    labels: { 'node-type': 'gpu', team: 'vision' },
    taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }],
  });
}

function ourEvents(emu: K8sEmulator, node: string) {
  return emu
    .events('default')
    .filter((e) => (e['involvedObject'] as { name?: string } | undefined)?.name === node)
    .map((e) => ({ reason: e['reason'], type: e['type'], message: String(e['message']) }));
}

describe('reconciling verdicts against the API emulator (real client-node)', () => {
  it('fail → pass → warn → stale: labels, taint, condition, events; foreign state untouched', async () => {
    const { emu, integration } = await setup();
    expect(integration.ready().ok).toBe(true);
    expect(integration.cluster.labelsOf('g1')?.['team']).toBe('vision');
    expect(integration.cluster.runtimeVersionOf('g1')).toBe('containerd://1.7.27');

    // fail
    emu.reset();
    integration.sink.update(nodeState('g1', 'fail'));
    await integration.idle();
    expect(labels(emu, 'g1')).toMatchObject({
      [names.labels.conformant]: 'false',
      [names.labels.role]: 'gpu',
      [names.labels.driverVersion]: '535.216.03',
      [names.labels.containerdVersion]: '1.7.27',
      'node-type': 'gpu',
      team: 'vision',
      'kubernetes.io/hostname': 'g1',
    });
    expect(taints(emu, 'g1')).toEqual([
      { key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' },
      { key: names.taintKey, value: 'true', effect: 'NoSchedule' },
    ]);
    expect(ourCondition(emu, 'g1')).toMatchObject({
      status: 'True',
      reason: 'BaselineNotMet',
      message: 'failing checks: gpu.driver, disk.free',
    });
    expect(conditions(emu, 'g1').map((c) => c.type)).toEqual(
      expect.arrayContaining(['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure', names.conditionType]),
    );
    expect(JSON.parse(annotations(emu, 'g1')[names.annotations.managedTaints] ?? '[]')).toEqual([
      names.taintKey,
    ]);
    expect(annotations(emu, 'g1')['node.alpha.kubernetes.io/ttl']).toBe('0');
    expect(nodePatches(emu).length).toBe(2);
    const statusPatch = emu.requestsBy('PATCH', '/api/v1/nodes/g1/status')[0];
    expect(statusPatch?.contentType).toContain('strategic-merge-patch');
    expect(ourEvents(emu, 'g1')).toEqual([
      {
        reason: 'BaselineNotMet',
        type: 'Warning',
        message: expect.stringContaining('gpu.driver, disk.free'),
      },
    ]);
    const transition = ourCondition(emu, 'g1')?.lastTransitionTime;

    // the same report again: zero writes
    emu.reset();
    integration.sink.update(nodeState('g1', 'fail'));
    await integration.idle();
    expect(emu.writes()).toBe(0);

    // pass: taint removed, only ours
    emu.reset();
    integration.sink.update(nodeState('g1', 'pass'));
    await integration.idle();
    expect(labels(emu, 'g1')[names.labels.conformant]).toBe('true');
    expect(taints(emu, 'g1')).toEqual([{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }]);
    expect(ourCondition(emu, 'g1')).toMatchObject({ status: 'False', reason: 'BaselineMet' });
    expect(annotations(emu, 'g1')[names.annotations.managedTaints]).toBeUndefined();
    expect(nodePatches(emu).length).toBeLessThanOrEqual(2);
    expect(ourEvents(emu, 'g1').at(-1)).toMatchObject({ reason: 'BaselineMet', type: 'Normal' });

    // warn: still conformant, no taint; message changes, no verdict event (condition status unchanged)
    emu.reset();
    integration.sink.update(nodeState('g1', 'warn'));
    await integration.idle();
    expect(labels(emu, 'g1')[names.labels.conformant]).toBe('true');
    expect(ourCondition(emu, 'g1')).toMatchObject({ status: 'False', reason: 'BaselineMet' });
    expect(ourCondition(emu, 'g1')?.message).toContain('registry.reachable');
    expect(emu.requestsBy('PATCH', '/api/v1/nodes/g1').length).toBe(0);

    // fail again, then stale: unknown + Unknown, taint kept as it was
    integration.sink.update(nodeState('g1', 'fail'));
    await integration.idle();
    emu.reset();
    integration.sink.update(nodeState('g1', 'fail', { stale: true }));
    await integration.idle();
    expect(labels(emu, 'g1')[names.labels.conformant]).toBe('unknown');
    expect(labels(emu, 'g1')[names.labels.driverVersion]).toBe('535.216.03');
    expect(ourCondition(emu, 'g1')).toMatchObject({ status: 'Unknown', reason: 'NoRecentReport' });
    expect(taints(emu, 'g1').some((t) => t.key === names.taintKey)).toBe(true);
    expect(nodePatches(emu).length).toBe(2);
    expect(transition).toBeDefined();
  });

  it('refreshes the heartbeat at most once per throttle interval', async () => {
    let now = Date.parse('2025-06-01T00:00:00Z');
    const { emu, integration } = await setup([gpuNode('g1')], {
      heartbeatThrottleMs: 300_000,
      now: () => now,
    });
    integration.sink.update(nodeState('g1', 'pass'));
    await integration.idle();
    const first = ourCondition(emu, 'g1');
    emu.reset();
    integration.sink.update(nodeState('g1', 'pass'));
    await integration.idle();
    expect(emu.writes()).toBe(0);
    now += 299_000;
    integration.sink.update(nodeState('g1', 'pass'));
    await integration.idle();
    expect(emu.writes()).toBe(0);
    now += 1000;
    integration.sink.update(nodeState('g1', 'pass'));
    await integration.idle();
    expect(emu.requestsBy('PATCH', '/api/v1/nodes/g1/status').length).toBe(1);
    expect(emu.requestsBy('PATCH', '/api/v1/nodes/g1').length).toBe(0);
    const second = ourCondition(emu, 'g1');
    expect(second?.lastTransitionTime).toBe(first?.lastTransitionTime);
    expect(first?.lastHeartbeatTime).toBe('2025-06-01T00:00:00Z');
    expect(second?.lastHeartbeatTime).toBe('2025-06-01T00:05:00Z');
  });

  it('restart: a new instance over a labelled, tainted cluster removes nothing before the node reports', async () => {
    const emu = await startEmulator([gpuNode('g1')]);
    cleanup.push(() => emu.close());
    const a = await startIntegration(emu);
    a.integration.sink.update(nodeState('g1', 'fail'));
    await a.integration.idle();
    await a.integration.stop();
    const before = emu.nodes.get('g1');

    emu.reset();
    const b = await startIntegration(emu);
    cleanup.push(() => b.integration.stop());
    // Syncing alone writes nothing.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(emu.writes()).toBe(0);
    expect(emu.nodes.get('g1')).toEqual(before);

    // The store knows the node only as stale, without a result (never reported since the restart):
    // conformant flips to unknown as the stale timeout says, but nothing is removed.
    b.integration.sink.update({ node: 'g1', role: 'gpu', verdict: 'unknown', stale: true, result: null });
    await b.integration.idle();
    expect(labels(emu, 'g1')[names.labels.conformant]).toBe('unknown');
    expect(labels(emu, 'g1')[names.labels.driverVersion]).toBe('535.216.03');
    expect(taints(emu, 'g1').some((t) => t.key === names.taintKey)).toBe(true);

    // Once it reports (pass, no GPU facts), owned state is removed.
    b.integration.sink.update(nodeState('g1', 'pass', { facts: facts({ gpu: null }) }));
    await b.integration.idle();
    expect(taints(emu, 'g1').some((t) => t.key === names.taintKey)).toBe(false);
    expect(labels(emu, 'g1')[names.labels.driverVersion]).toBeUndefined();
    expect(labels(emu, 'g1')['team']).toBe('vision');
  });

  it('a restarted instance makes no write for a report that matches the cluster', async () => {
    const emu = await startEmulator([gpuNode('g1')]);
    cleanup.push(() => emu.close());
    const a = await startIntegration(emu);
    a.integration.sink.update(nodeState('g1', 'fail'));
    await a.integration.idle();
    await a.integration.stop();
    emu.reset();
    const b = await startIntegration(emu);
    cleanup.push(() => b.integration.stop());
    b.integration.sink.update(nodeState('g1', 'fail'));
    await b.integration.idle();
    expect(emu.writes()).toBe(0);
  });

  it('dry-run writes nothing and changes() shows the plan', async () => {
    let now = Date.parse('2025-06-01T00:00:00Z');
    const { emu, integration, lines } = await setup([gpuNode('g1')], { dryRun: true, now: () => now });
    emu.reset();
    integration.sink.update(nodeState('g1', 'fail'));
    await integration.idle();
    now += 60_000;
    integration.sink.update(nodeState('g1', 'fail'));
    await integration.idle();
    expect(emu.writes()).toBe(0);
    const changes = integration.changes('g1');
    expect(changes.map((c) => c.kind)).toEqual(['node-patch', 'status-patch', 'event']);
    expect(changes.every((c) => !c.applied)).toBe(true);
    expect(changes[0]?.summary).toContain(`taint ${names.taintKey}=true:NoSchedule`);
    expect(lines.some((l) => l.msg?.startsWith('dry-run'))).toBe(true);
    expect(integration.changes('other')).toEqual([]);
    integration.sink.update(nodeState('g1', 'pass'));
    await integration.idle();
    expect(emu.writes()).toBe(0);
    expect(
      integration
        .changes('g1')
        .slice(3)
        .map((c) => c.summary),
    ).toEqual([
      // Planned against the unchanged node: nothing of the first plan was written.
      expect.stringContaining(`label ${names.labels.conformant}=true`),
      'condition osmo.nvidia.com/BaselineNotMet=False (BaselineMet)',
      expect.stringContaining('Normal BaselineMet'),
    ]);
  });

  it('sanitises or omits informative label values', async () => {
    const { emu, integration } = await setup();
    const f = facts();
    f.gpu = {
      driverVersion: '550.54.15 (open kernel module)',
      cudaVersion: 'x'.repeat(64),
      devices: [],
      containerToolkit: null,
    };
    integration.sink.update(nodeState('g1', 'pass', { facts: f }));
    await integration.idle();
    expect(labels(emu, 'g1')[names.labels.driverVersion]).toBe('550.54.15_open_kernel_module');
    expect(labels(emu, 'g1')[names.labels.cudaVersion]).toBeUndefined();
    for (const [key, value] of Object.entries(labels(emu, 'g1'))) {
      if (key.startsWith(P)) expect(value).toMatch(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/);
    }
  });

  it('cluster checks read StorageClasses and kubelet runtime versions', async () => {
    const emu = await startEmulator([
      makeNode('g1', { containerRuntimeVersion: 'containerd://1.6.20' }),
      makeNode('g2'),
    ]);
    cleanup.push(() => emu.close());
    let at = Date.now();
    const { integration } = await startIntegration(emu, { now: () => at });
    cleanup.push(() => integration.stop());
    const states = [nodeState('g1', 'pass'), nodeState('g2', 'pass')];
    let results = await integration.clusterChecks(states);
    expect(results.find((r) => r.id === 'cluster.default-storageclass')?.status).toBe('fail');
    const rt = results.find((r) => r.id === 'cluster.runtime-version');
    expect(rt?.status).toBe('fail');
    expect(rt?.message).toContain('g1');
    expect(rt?.message).not.toContain('g2');
    emu.storageClasses.put({
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: 'local', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
      provisioner: 'x',
    });
    // The StorageClass list is reused for a minute (GET /api/v1/summary may be polled).
    at += STORAGE_CLASS_TTL_MS;
    results = await integration.clusterChecks(states);
    // A default class whose provisioner is no installed CSI driver: not dynamic provisioning.
    expect(results.find((r) => r.id === 'cluster.default-storageclass')).toMatchObject({
      status: 'warn',
      message: expect.stringContaining('local: no CSIDriver x'),
    });
    emu.csiDrivers.put({
      apiVersion: 'storage.k8s.io/v1',
      kind: 'CSIDriver',
      metadata: { name: 'x' },
      spec: {},
    });
    at += STORAGE_CLASS_TTL_MS;
    results = await integration.clusterChecks(states);
    expect(results.find((r) => r.id === 'cluster.default-storageclass')?.status).toBe('pass');
    // The emulator's nodes all report InternalIP 10.0.0.1: the informer's view keeps the addresses.
    expect(results.find((r) => r.id === 'cluster.stable-ips')).toMatchObject({
      status: 'warn',
      observed: 'shared InternalIP 10.0.0.1: g1, g2',
    });
  });

  it('cluster check thresholds are read from the rules in force on every summary', async () => {
    const emu = await startEmulator([
      makeNode('cp1', { labels: { 'node-role.kubernetes.io/control-plane': '' } }),
    ]);
    cleanup.push(() => emu.close());
    let rules = { controlPlaneHa: { minNodes: 3 }, operatorNodes: { minNodes: 0, maxNodes: 3 } };
    const { integration } = await startIntegration(emu, { clusterRules: () => rules });
    cleanup.push(() => integration.stop());
    const status = async (id: string) =>
      (await integration.clusterChecks([])).find((r) => r.id === id)?.status;
    expect(await status('cluster.control-plane-ha')).toBe('warn');
    expect(await status('cluster.operator-nodes')).toBe('pass');
    rules = { ...rules, controlPlaneHa: { minNodes: 1 } };
    expect(await status('cluster.control-plane-ha')).toBe('pass');
  });
});
