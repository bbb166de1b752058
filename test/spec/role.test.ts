import { describe, expect, it } from 'vitest';
import { roleFromFacts, roleFromLabels } from '../../spec/role.js';
import { buildFacts, gpuFacts, jetsonFacts } from './facts-builder.js';

describe('roleFromFacts', () => {
  it('Jetson beats GPU, GPU beats compute; source is facts with a reason', () => {
    expect(roleFromFacts(buildFacts({ jetson: jetsonFacts(), gpu: gpuFacts() }))).toMatchObject({
      role: 'jetson',
      source: 'facts',
    });
    const gpu = roleFromFacts(buildFacts({ gpu: gpuFacts() }));
    expect(gpu).toMatchObject({ role: 'gpu', source: 'facts' });
    expect(gpu.reason).toBe('NVIDIA GPU found (NVIDIA A100-SXM4-80GB)');
    expect(roleFromFacts(buildFacts())).toEqual({
      role: 'compute',
      source: 'facts',
      reason: 'no NVIDIA GPU or Jetson found',
    });
  });
});

describe('roleFromLabels', () => {
  it('reads node-type, the node pool and the control-plane role label', () => {
    expect(roleFromLabels({ 'node-type': 'gpu' })).toEqual({ role: 'gpu', source: 'label:node-type=gpu' });
    expect(roleFromLabels({ 'node-type': 'operator' })).toEqual({
      role: 'operator',
      source: 'label:node-type=operator',
    });
    expect(roleFromLabels({ 'osmo.nvidia.com/node-pool': 'control-plane' })).toEqual({
      role: 'control-plane',
      source: 'label:osmo.nvidia.com/node-pool=control-plane',
    });
    expect(roleFromLabels({ 'node-role.kubernetes.io/control-plane': '', 'node-type': 'compute' })).toEqual({
      role: 'control-plane',
      source: 'label:node-role.kubernetes.io/control-plane=',
    });
  });
  it('returns null without a known role label, ignoring unknown values and prototype keys', () => {
    expect(roleFromLabels({})).toBeNull();
    expect(roleFromLabels({ 'node-type': 'storage' })).toBeNull();
    expect(
      roleFromLabels({ 'node-type': 'constructor', 'osmo.nvidia.com/node-pool': 'toString' }),
    ).toBeNull();
    expect(roleFromLabels({ 'node-type': 'storage', 'osmo.nvidia.com/node-pool': 'compute' })).toMatchObject({
      role: 'compute',
    });
  });
});
