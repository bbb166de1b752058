import { describe, expect, it } from 'vitest';
import {
  resolveRole,
  roleForHost,
  roleFromFacts,
  roleFromLabels,
  roleFromOwnLabel,
} from '../../spec/role.js';
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

describe('roleFromFacts: control plane and GPUs without a working driver', () => {
  const manifest = (manifestFound: boolean) => ({
    manifestFound,
    encryptionConfigPath: null,
    firstProvider: null,
    enabled: null,
  });

  it('a kube-apiserver static pod manifest makes a control-plane node', () => {
    expect(roleFromFacts(buildFacts({ apiServerEncryption: manifest(true) }))).toEqual({
      role: 'control-plane',
      source: 'facts',
      reason: 'kube-apiserver static pod manifest found',
    });
    // The probe ran but found no manifest: not a control plane.
    expect(roleFromFacts(buildFacts({ apiServerEncryption: manifest(false) })).role).toBe('compute');
  });

  it('precedence: jetson > control-plane > gpu > compute', () => {
    const all = { jetson: jetsonFacts(), apiServerEncryption: manifest(true), gpu: gpuFacts() };
    expect(roleFromFacts(buildFacts(all)).role).toBe('jetson');
    expect(roleFromFacts(buildFacts({ ...all, jetson: null })).role).toBe('control-plane');
    expect(roleFromFacts(buildFacts({ ...all, jetson: null, apiServerEncryption: null })).role).toBe('gpu');
    expect(
      roleFromFacts(buildFacts({ apiServerEncryption: manifest(true), pci: { nvidiaGpus: 8 } })).role,
    ).toBe('control-plane');
  });

  it('NVIDIA GPUs on the PCI bus without nvidia-smi make a gpu node', () => {
    expect(roleFromFacts(buildFacts({ gpu: null, pci: { nvidiaGpus: 2 } }))).toEqual({
      role: 'gpu',
      source: 'facts',
      reason: '2 NVIDIA GPU(s) on the PCI bus, nvidia-smi not found/failing',
    });
    // nvidia-smi's answer wins for the reason when there is one.
    expect(roleFromFacts(buildFacts({ gpu: gpuFacts(), pci: { nvidiaGpus: 1 } })).reason).toBe(
      'NVIDIA GPU found (NVIDIA A100-SXM4-80GB)',
    );
  });

  it('no NVIDIA GPU on the PCI bus, or an unknown PCI fact (null or absent), stays compute', () => {
    expect(roleFromFacts(buildFacts({ pci: { nvidiaGpus: 0 } })).role).toBe('compute');
    expect(roleFromFacts(buildFacts({ pci: null })).role).toBe('compute');
    const { pci: _omitted, ...withoutPci } = buildFacts();
    expect(roleFromFacts(withoutPci).role).toBe('compute');
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

describe('resolveRole: the one decision, from what the caller knows', () => {
  const OWN = 'validator.osmo.nvidia.com/role';
  const gpuReport = { facts: buildFacts({ gpu: gpuFacts() }), probeErrors: [] };
  const timedOut = {
    facts: buildFacts({ gpu: null }),
    probeErrors: [{ probe: 'gpu' as const, kind: 'timeout' as const, message: 'nvidia-smi hung' }],
  };

  it('labels naming a role win over facts, the previous role and our own label', () => {
    const labels = { 'node-type': 'operator', [OWN]: 'gpu' };
    expect(resolveRole({ labels, ownRoleLabel: OWN, report: gpuReport, previous: () => 'gpu' })).toEqual({
      role: 'operator',
      source: 'label:node-type=operator',
    });
    expect(resolveRole({ labels, ownRoleLabel: OWN })?.role).toBe('operator');
  });

  it('with a report and no role probe error, the facts decide (our own label is only a fallback)', () => {
    expect(resolveRole({ labels: { [OWN]: 'compute' }, ownRoleLabel: OWN, report: gpuReport })).toMatchObject(
      {
        role: 'gpu',
        source: 'facts',
      },
    );
  });

  it('a role probe error keeps the previous role, else our own label, else the facts', () => {
    let asked = 0;
    const previous = () => {
      asked++;
      return 'gpu' as const;
    };
    expect(resolveRole({ report: gpuReport, previous }).role).toBe('gpu');
    expect(asked).toBe(0); // asked only when a role probe errored
    expect(resolveRole({ report: timedOut, previous })).toEqual({
      role: 'gpu',
      source: 'previous (gpu probe error)',
      reason: 'kept from the previous evaluation: nvidia-smi hung',
    });
    expect(asked).toBe(1);
    expect(resolveRole({ labels: { [OWN]: 'jetson' }, ownRoleLabel: OWN, report: timedOut })).toEqual({
      role: 'jetson',
      source: 'previous (gpu probe error)',
      reason: `kept from the ${OWN} label: nvidia-smi hung`,
    });
    expect(resolveRole({ report: timedOut }).role).toBe('compute');
  });

  it('without a report: our own label, or null', () => {
    expect(resolveRole({ labels: { [OWN]: 'gpu' }, ownRoleLabel: OWN })).toEqual({
      role: 'gpu',
      source: `label:${OWN}=gpu`,
    });
    expect(resolveRole({ labels: { [OWN]: 'gpu' } })).toBeNull();
    expect(resolveRole({ labels: { [OWN]: 'constructor' }, ownRoleLabel: OWN })).toBeNull();
    expect(resolveRole({})).toBeNull();
  });

  it('our own label is read only when it names a role', () => {
    expect(roleFromOwnLabel({ [OWN]: 'operator' }, OWN)).toBe('operator');
    expect(roleFromOwnLabel({ [OWN]: 'storage' }, OWN)).toBeUndefined();
    expect(roleFromOwnLabel({}, 'toString')).toBeUndefined();
    expect(roleFromOwnLabel(undefined, OWN)).toBeUndefined();
  });
});

describe('roleForHost (check --role auto)', () => {
  const kubelet = (labels: Record<string, string>, nodeTypeFile: string | null = null) => ({
    commandFrom: 'kubeadm-files' as const,
    nodeType: labels['node-type'] ?? null,
    nodeTypeFile,
    labels,
  });
  it("the kubelet's --node-labels decide before the facts, and the source says so", () => {
    const facts = buildFacts({ kubelet: kubelet({ 'node-type': 'operator' }, '/etc/default/kubelet') });
    expect(roleForHost(facts)).toEqual({
      role: 'operator',
      source: 'kubelet:node-type=operator',
      reason: 'the kubelet registers the node with --node-labels node-type=operator (/etc/default/kubelet)',
    });
  });
  it('labels that name no role, or no kubelet, fall back to the facts', () => {
    expect(roleForHost(buildFacts({ kubelet: kubelet({ zone: 'a', 'node-type': 'weird' }) }))).toMatchObject({
      role: 'compute',
      source: 'facts',
    });
    expect(roleForHost(buildFacts({ kubelet: null, gpu: gpuFacts() })).source).toBe('facts');
  });
});
