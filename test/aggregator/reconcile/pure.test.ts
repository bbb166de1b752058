import { describe, expect, it } from 'vitest';
import { isValidLabelValue, sanitizeLabelValue } from '../../../aggregator/k8s/label-values.js';
import { makeNames } from '../../../aggregator/k8s/names.js';
import type { NodeView } from '../../../aggregator/k8s/node-view.js';
import { backoffMs, retryAfterMs, TokenBucket } from '../../../aggregator/k8s/rate-limit.js';
import { allowedTainted, breakerAllows } from '../../../aggregator/reconcile/breaker.js';
import { desiredState } from '../../../aggregator/reconcile/desired.js';
import { planNodePatch, planStatusPatch } from '../../../aggregator/reconcile/diff.js';
import {
  assertOwnableKey,
  isReservedKey,
  ownedKeys,
  parseManagedKeys,
} from '../../../aggregator/reconcile/ownership.js';
import { facts, nodeState } from './helpers.js';

const names = makeNames();
const config = { taintRoles: ['compute', 'gpu', 'jetson'] as const, taintEffect: 'NoSchedule' as const };
const P = 'validator.osmo.nvidia.com/';

describe('label values', () => {
  it('keeps valid values and sanitises host strings', () => {
    expect(sanitizeLabelValue('535.216.03')).toBe('535.216.03');
    expect(sanitizeLabelValue('535.216.03 (open kernel)')).toBe('535.216.03_open_kernel');
    expect(sanitizeLabelValue('  -v1.7.27- ')).toBe('v1.7.27');
    expect(sanitizeLabelValue('')).toBeUndefined();
    expect(sanitizeLabelValue('()')).toBeUndefined();
    expect(sanitizeLabelValue(null)).toBeUndefined();
  });
  it('omits values longer than 63 characters rather than cutting them', () => {
    expect(sanitizeLabelValue('a'.repeat(63))).toBe('a'.repeat(63));
    expect(sanitizeLabelValue('a'.repeat(64))).toBeUndefined();
    expect(isValidLabelValue('a'.repeat(64))).toBe(false);
  });
});

describe('ownership', () => {
  it('parses JSON arrays and comma lists, keeping only our keys', () => {
    expect(parseManagedKeys('["a","b"]')).toEqual(['a', 'b']);
    expect(parseManagedKeys(' a, b ,')).toEqual(['a', 'b']);
    expect(parseManagedKeys('[not json')).toEqual([]);
    const owned = ownedKeys(`["${P}role","node-type","node-role.kubernetes.io/x","${P}conformant"]`, names);
    expect([...owned].sort()).toEqual([`${P}conformant`, `${P}role`]);
  });
  it('refuses reserved keys', () => {
    expect(isReservedKey('kubernetes.io/hostname')).toBe(true);
    expect(isReservedKey('node-role.kubernetes.io/control-plane')).toBe(true);
    expect(isReservedKey('k8s.io/x')).toBe(true);
    expect(isReservedKey('foo.k8s.io/x')).toBe(true);
    expect(isReservedKey('validator.osmo.nvidia.com/role')).toBe(false);
    expect(() => assertOwnableKey('node.kubernetes.io/x', names)).toThrow(/reserved/);
    expect(() => assertOwnableKey('example.com/x', names)).toThrow(/prefix/);
  });
});

describe('desired state', () => {
  it('pass: conformant true, condition False, no taint', () => {
    const d = desiredState(nodeState('n1', 'pass'), names, config);
    expect(d.labels[names.labels.conformant]).toBe('true');
    expect(d.labels[names.labels.role]).toBe('gpu');
    expect(d.labels[names.labels.driverVersion]).toBe('535.216.03');
    expect(d.labels[names.labels.cudaVersion]).toBe('12.2');
    expect(d.labels[names.labels.containerdVersion]).toBe('1.7.27');
    expect(d.condition).toMatchObject({
      status: 'False',
      reason: 'BaselineMet',
      type: 'osmo.nvidia.com/BaselineNotMet',
    });
    expect(d.taint).toBe('absent');
  });
  it('warn counts as conformant', () => {
    const d = desiredState(nodeState('n1', 'warn'), names, config);
    expect(d.labels[names.labels.conformant]).toBe('true');
    expect(d.condition.status).toBe('False');
    expect(d.condition.message).toContain('registry.reachable');
  });
  it('fail: conformant false, condition True naming the failing checks, taint on tainted roles only', () => {
    const d = desiredState(nodeState('n1', 'fail'), names, config);
    expect(d.labels[names.labels.conformant]).toBe('false');
    expect(d.condition).toMatchObject({ status: 'True', reason: 'BaselineNotMet' });
    expect(d.condition.message).toBe('failing checks: gpu.driver, disk.free');
    expect(d.taint).toBe('present');
    expect(desiredState(nodeState('cp', 'fail', { role: 'control-plane' }), names, config).taint).toBe(
      'absent',
    );
  });
  it('stale: unknown, condition Unknown, taint left as it was', () => {
    const d = desiredState(nodeState('n1', 'fail', { stale: true }), names, config);
    expect(d.labels[names.labels.conformant]).toBe('unknown');
    expect(d.condition).toMatchObject({ status: 'Unknown', reason: 'NoRecentReport' });
    expect(d.taint).toBe('unchanged');
    expect(d.labels[names.labels.driverVersion]).toBe('535.216.03');
  });
  it('stale without a report in this process: dated by our last heartbeat, or an earlier message kept', () => {
    const unreported = {
      node: 'n1',
      role: 'gpu' as const,
      verdict: 'unknown' as const,
      stale: true,
      result: null,
    };
    const base = "no recent report from the node's validator agent";
    expect(desiredState(unreported, names, config).condition.message).toBe(base);
    const passing = {
      type: names.conditionType,
      status: 'False',
      lastHeartbeatTime: new Date(Date.UTC(2025, 0, 2)),
    };
    expect(desiredState(unreported, names, config, passing).condition.message).toBe(
      `${base} since 2025-01-02T00:00:00Z`,
    );
    const earlier = {
      type: names.conditionType,
      status: 'Unknown',
      reason: 'NoRecentReport',
      message: `${base} since 2025-01-01T00:00:00Z`,
      lastHeartbeatTime: '2025-01-01T00:15:00Z',
    };
    expect(desiredState(unreported, names, config, earlier).condition.message).toBe(earlier.message);
  });
  it('omits informative labels that cannot be valid', () => {
    const f = facts();
    f.gpu = { driverVersion: 'x'.repeat(70), cudaVersion: '12.2 beta', devices: [], containerToolkit: null };
    const d = desiredState(nodeState('n1', 'pass', { facts: f }), names, config);
    expect(names.labels.driverVersion in d.labels).toBe(false);
    expect(d.labels[names.labels.cudaVersion]).toBe('12.2_beta');
  });
});

function node(partial: {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  taints?: NodeView['spec'];
}): NodeView {
  return {
    metadata: {
      name: 'n1',
      resourceVersion: '7',
      labels: partial.labels ?? {},
      annotations: partial.annotations ?? {},
    },
    spec: partial.taints ?? {},
    status: {},
  };
}

describe('node patch plan', () => {
  const allow = { allowRemoval: true, taintAllowed: true };
  it('adds labels, taint and ownership in one patch guarded by resourceVersion; foreign keys untouched', () => {
    const n = node({
      labels: { 'node-type': 'gpu', 'kubernetes.io/hostname': 'n1' },
      taints: { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] },
    });
    const plan = planNodePatch(n, desiredState(nodeState('n1', 'fail'), names, config), names, allow);
    expect(plan?.body.metadata.labels?.[names.labels.conformant]).toBe('false');
    expect(plan?.body.metadata.labels && 'node-type' in plan.body.metadata.labels).toBe(false);
    expect(plan?.body.spec?.taints).toEqual([
      { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
      { key: `${P}nonconformant`, value: 'true', effect: 'NoSchedule' },
    ]);
    expect(plan?.body.metadata.resourceVersion).toBe('7');
    expect(JSON.parse(plan?.body.metadata.annotations?.[names.annotations.managedTaints] ?? '[]')).toEqual([
      `${P}nonconformant`,
    ]);
    expect(plan?.taintAdded).toBe(true);
  });
  it('nothing to write when the node already matches', () => {
    const d = desiredState(nodeState('n1', 'pass'), names, config);
    const n = node({
      labels: d.labels,
      annotations: { [names.annotations.managedLabels]: JSON.stringify(Object.keys(d.labels)) },
    });
    expect(planNodePatch(n, d, names, allow)).toBeNull();
  });
  it('removes only owned labels and taints, and only once the node has reported', () => {
    const d = desiredState(nodeState('n1', 'pass', { facts: facts({ gpu: null }) }), names, config);
    const n = node({
      labels: { ...d.labels, [names.labels.driverVersion]: '1', [`${P}other`]: 'x' },
      annotations: {
        [names.annotations.managedLabels]: [...Object.keys(d.labels), names.labels.driverVersion].join(','),
        [names.annotations.managedTaints]: `["${P}nonconformant"]`,
      },
      taints: {
        taints: [
          { key: `${P}nonconformant`, value: 'true', effect: 'NoSchedule' },
          { key: 'x', effect: 'NoExecute' },
        ],
      },
    });
    const plan = planNodePatch(n, d, names, allow);
    expect(plan?.body.metadata.labels).toEqual({ [names.labels.driverVersion]: null });
    expect(plan?.body.spec?.taints).toEqual([{ key: 'x', effect: 'NoExecute' }]);
    expect(plan?.body.metadata.annotations?.[names.annotations.managedTaints]).toBeNull();
    expect(planNodePatch(n, d, names, { allowRemoval: false, taintAllowed: true })).toBeNull();
  });
  it('breaker closed: no new taint, labels still written', () => {
    const plan = planNodePatch(node({}), desiredState(nodeState('n1', 'fail'), names, config), names, {
      allowRemoval: true,
      taintAllowed: false,
    });
    expect(plan?.body.spec).toBeUndefined();
    expect(plan?.body.metadata.labels?.[names.labels.conformant]).toBe('false');
  });
  it('refuses to act on a tampered ownership annotation naming reserved keys', () => {
    const d = desiredState(nodeState('n1', 'pass'), names, config);
    const n = node({
      labels: { ...d.labels, 'node-role.kubernetes.io/worker': '' },
      annotations: {
        [names.annotations.managedLabels]: JSON.stringify([
          ...Object.keys(d.labels),
          'node-role.kubernetes.io/worker',
        ]),
      },
    });
    const plan = planNodePatch(n, d, names, allow);
    expect(plan?.body.metadata.labels).toBeUndefined();
  });
});

describe('status patch plan', () => {
  const d = desiredState(nodeState('n1', 'fail'), names, config).condition;
  const t0 = Date.parse('2025-01-01T00:00:00Z');
  it('sets transition and heartbeat on a new condition; throttles heartbeats; keeps transition time', () => {
    const first = planStatusPatch(undefined, d, t0, 300_000);
    expect(first?.transition).toBe(true);
    const cond = first?.body.status.conditions[0];
    expect(cond?.lastTransitionTime).toBe('2025-01-01T00:00:00Z');
    const n: NodeView = { status: { conditions: [{ ...cond!, type: d.type }] } };
    expect(planStatusPatch(n, d, t0 + 60_000, 300_000)).toBeNull();
    const hb = planStatusPatch(n, d, t0 + 300_000, 300_000);
    expect(hb?.heartbeatOnly).toBe(true);
    expect(hb?.transition).toBe(false);
    expect(hb?.body.status.conditions[0]?.lastTransitionTime).toBe('2025-01-01T00:00:00Z');
    expect(hb?.body.status.conditions[0]?.lastHeartbeatTime).toBe('2025-01-01T00:05:00Z');
    const pass = desiredState(nodeState('n1', 'pass'), names, config).condition;
    const flip = planStatusPatch(n, pass, t0 + 1000, 300_000);
    expect(flip?.transition).toBe(true);
    expect(flip?.body.status.conditions[0]?.lastTransitionTime).toBe('2025-01-01T00:00:01Z');
  });
});

describe('breaker', () => {
  it('allows 25% of a role, never fewer than one', () => {
    expect(allowedTainted(10, 25)).toBe(2);
    expect(allowedTainted(1, 25)).toBe(1);
    expect(breakerAllows({ roleNodes: 10, tainted: 1, maxTaintedPercent: 25 })).toBe(true);
    expect(breakerAllows({ roleNodes: 10, tainted: 2, maxTaintedPercent: 25 })).toBe(false);
    expect(breakerAllows({ roleNodes: 1, tainted: 0, maxTaintedPercent: 25 })).toBe(true);
  });
});

describe('rate limiting', () => {
  it('token bucket: burst then qps, pauses for Retry-After', () => {
    let now = 0;
    const clock = { now: () => now, sleep: async () => undefined };
    const bucket = new TokenBucket(10, 3, clock);
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    now += 100;
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
    now += 10_000;
    bucket.pauseFor(1000);
    expect(bucket.tryTake()).toBe(false);
    expect(bucket.waitMs()).toBe(1000);
    now += 1000;
    expect(bucket.tryTake()).toBe(true);
  });
  it('parses Retry-After and bounds backoff', () => {
    expect(retryAfterMs('1', 0)).toBe(1000);
    expect(retryAfterMs('3600', 0)).toBe(60_000);
    expect(retryAfterMs('garbage', 0)).toBeUndefined();
    expect(retryAfterMs(new Date(5000).toUTCString(), 0)).toBe(5000);
    expect(backoffMs(1, 1000, 300_000, () => 1)).toBe(1000);
    expect(backoffMs(30, 1000, 300_000, () => 1)).toBe(300_000);
  });
});

describe('integration options', () => {
  it('accepts a pino logger and rejects an out-of-range breaker setting', async () => {
    const { KubeConfig } = await import('@kubernetes/client-node');
    const { pino } = await import('pino');
    const { Registry } = await import('prom-client');
    const { createKubernetesIntegration } = await import('../../../aggregator/kubernetes-integration.js');
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'c', server: 'http://127.0.0.1:1' }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const base = { kubeConfig, names, registry: new Registry(), logger: pino({ level: 'silent' }) };
    const integration = createKubernetesIntegration({ ...base, maxTaintedPercent: undefined });
    expect(integration.ready()).toEqual({ ok: false, reason: 'kubernetes integration not started' });
    expect(() => createKubernetesIntegration({ ...base, maxTaintedPercent: 150 })).toThrow(
      /max-tainted-percent/,
    );
  });
});
