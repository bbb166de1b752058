import { beforeAll, describe, expect, it } from 'vitest';
import type { Facts, NodeResult, ProbeError, Role } from '../../report/schema.js';
import type { NodeLabelContext, RoleDecision } from '../../spec/api.js';
import { evaluate } from '../../spec/evaluate.js';
import { loadSpec, type Spec } from '../../spec/load.js';
import { roleFromFacts } from '../../spec/role.js';
import { buildFacts, GB, gpuFacts, jetsonFacts, unreachable } from './facts-builder.js';

let spec: Spec;
beforeAll(async () => {
  spec = await loadSpec();
});

const NOW = () => new Date('2025-06-01T12:00:00.000Z');

function run(
  facts: Facts,
  role: Role,
  opts: { probeErrors?: ProbeError[]; labels?: NodeLabelContext; source?: string } = {},
): NodeResult {
  const decision: RoleDecision = { role, source: opts.source ?? 'flag' };
  return evaluate(
    { node: 'node-1', facts, probeErrors: opts.probeErrors ?? [], collectedAt: '2025-06-01T11:59:00.000Z' },
    spec,
    decision,
    opts.labels,
    { now: NOW },
  );
}

function check(result: NodeResult, id: string) {
  const c = result.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id}`);
  return c;
}

describe('evaluate', () => {
  it('passes a healthy Ubuntu 22.04 GPU node', () => {
    const r = run(buildFacts({ gpu: gpuFacts('550.54.14', '12.6') }), 'gpu');
    expect(r.verdict).toBe('pass');
    expect(r).toMatchObject({
      node: 'node-1',
      role: 'gpu',
      roleSource: 'flag',
      evaluatedAt: '2025-06-01T12:00:00.000Z',
      spec: { name: 'osmo-onprem-baseline', revision: spec.metadata.revision },
    });
    expect(check(r, 'gpu.driver')).toMatchObject({
      status: 'pass',
      observed: '550.54.14',
      expected: '≥ 535.216.03',
      remediation: null,
    });
    expect(check(r, 'gpu.cuda').status).toBe('pass');
    expect(check(r, 'memory.total')).toMatchObject({ status: 'skip', message: 'not required for role gpu' });
    expect(check(r, 'node.label').status).toBe('skip');
    expect(check(r, 'jetson.jetpack').status).toBe('skip');
    for (const c of r.checks) {
      expect(['pass', 'skip'], c.id).toContain(c.status);
      expect(c.source, c.id).toBeTruthy();
    }
  });

  it('fails an old driver (535.54.03 / CUDA 12.2) on both gpu.driver and gpu.cuda', () => {
    const r = run(buildFacts({ gpu: gpuFacts('535.54.03', '12.2') }), 'gpu');
    expect(r.verdict).toBe('fail');
    expect(check(r, 'gpu.driver')).toMatchObject({ status: 'fail', observed: '535.54.03' });
    expect(check(r, 'gpu.driver').message).toContain('older than 535.216.03');
    expect(check(r, 'gpu.driver').remediation).toContain('535.216.03');
    expect(check(r, 'gpu.cuda')).toMatchObject({ status: 'fail', observed: '12.2', expected: '≥ 12.6' });
  });

  it('535.216.03 / CUDA 12.2 passes gpu.driver and fails gpu.cuda with the forward-compatibility caveat', () => {
    const r = run(buildFacts({ gpu: gpuFacts('535.216.03', '12.2') }), 'gpu');
    expect(check(r, 'gpu.driver').status).toBe('pass');
    const cuda = check(r, 'gpu.cuda');
    expect(cuda.status).toBe('fail');
    expect(cuda.message).toContain("the one its driver supports (nvidia-smi's cuda_version)");
    expect(cuda.message).toContain('driver 535.x supports CUDA 12.2');
    expect(cuda.message).toContain('passes gpu.driver and fails gpu.cuda');
    expect(cuda.message).toContain('cuda-compat-12-6');
    expect(cuda.remediation).toContain('cuda-compat-12-6');
  });

  it('a gpu-role node without a GPU fails the GPU checks; a compute node without one skips them', () => {
    const gpu = run(buildFacts(), 'gpu');
    expect(check(gpu, 'gpu.driver')).toMatchObject({ status: 'fail' });
    expect(check(gpu, 'gpu.driver').message).toContain('no NVIDIA GPU');
    const compute = run(buildFacts(), 'compute');
    expect(check(compute, 'gpu.driver').status).toBe('skip');
    expect(check(compute, 'gpu.cuda').status).toBe('skip');
    expect(compute.verdict).toBe('pass');
    const computeWithGpu = run(buildFacts({ gpu: gpuFacts('535.54.03', '12.2') }), 'compute');
    expect(check(computeWithGpu, 'gpu.driver').status).toBe('fail');
  });

  it('a probe error makes the checks reading its facts error, never pass, and the verdict fail', () => {
    const err: ProbeError = {
      probe: 'gpu',
      kind: 'timeout',
      message: 'nvidia-smi did not answer within 10000 ms',
    };
    const r = run(buildFacts({ gpu: null }), 'gpu', { probeErrors: [err] });
    expect(r.verdict).toBe('fail');
    for (const id of ['gpu.driver', 'gpu.cuda']) {
      const c = check(r, id);
      expect(c.status).toBe('error');
      expect(c.message).toContain('nvidia-smi did not answer within 10000 ms');
      expect(c.remediation).toBeTruthy();
    }
    expect(check(r, 'containerd.version').status).toBe('pass');
    expect(r.probeErrors).toEqual([err]);
  });

  it('NVIDIA GPUs on the PCI bus without nvidia-smi: gpu.driver and gpu.cuda fail naming the driver', () => {
    const facts = buildFacts({ gpu: null, pci: { nvidiaGpus: 4 } });
    const role = roleFromFacts(facts);
    expect(role.role).toBe('gpu');
    const r = evaluate(
      { node: 'node-1', facts, probeErrors: [], collectedAt: '2025-06-01T11:59:00.000Z' },
      spec,
      role,
      undefined,
      { now: NOW },
    );
    expect(check(r, 'gpu.driver')).toMatchObject({
      status: 'fail',
      observed: 'no driver (4 NVIDIA GPU(s) on the PCI bus)',
      message:
        'NVIDIA GPU(s) present on the PCI bus but nvidia-smi is missing: install the NVIDIA driver ≥ 535.216.03',
    });
    expect(check(r, 'gpu.driver').remediation).toContain('535.216.03');
    expect(check(r, 'gpu.cuda').status).toBe('fail');
    expect(check(r, 'gpu.cuda').message).toContain('no CUDA version is offered without the NVIDIA driver');
    expect(r.verdict).toBe('fail');
    // Even where a GPU is optional (compute: whenAbsent skip) the GPU is not absent, its driver is.
    expect(check(run(facts, 'compute'), 'gpu.driver').status).toBe('fail');
    // No GPU on the bus, or PCI unknown: absent as before.
    expect(check(run(buildFacts({ pci: { nvidiaGpus: 0 } }), 'compute'), 'gpu.driver').status).toBe('skip');
    expect(check(run(buildFacts({ pci: null }), 'compute'), 'gpu.driver').status).toBe('skip');
  });

  it('a hanging nvidia-smi on a host whose PCI bus shows GPUs: role gpu, GPU checks error (not skipped)', () => {
    const facts = buildFacts({ gpu: null, pci: { nvidiaGpus: 8 } });
    const role = roleFromFacts(facts);
    expect(role.role).toBe('gpu');
    const err: ProbeError = { probe: 'gpu', kind: 'timeout', message: 'nvidia-smi did not answer' };
    const r = evaluate(
      { node: 'node-1', facts, probeErrors: [err], collectedAt: '2025-06-01T11:59:00.000Z' },
      spec,
      role,
      undefined,
      { now: NOW },
    );
    expect(check(r, 'gpu.driver').status).toBe('error');
    expect(check(r, 'gpu.cuda').status).toBe('error');
    expect(r.verdict).toBe('fail');
  });

  it('a probe error on a check not required for the role stays skip', () => {
    const r = run(buildFacts(), 'operator', {
      probeErrors: [{ probe: 'gpu', kind: 'timeout', message: 'x' }],
    });
    expect(check(r, 'gpu.driver').status).toBe('skip');
    expect(r.verdict).toBe('pass');
  });

  it('Jetson: JetPack 6.2 passes, 6.0 fails, an unknown L4T warns naming L4T and package', () => {
    // The agent reports the L4T release; the JetPack release comes from the spec's table.
    const ok = run(
      buildFacts({
        cpu: { arch: 'arm64', logicalCores: 12, physicalCores: null, model: null },
        jetson: jetsonFacts(),
      }),
      'jetson',
    );
    expect(check(ok, 'jetson.jetpack')).toMatchObject({ status: 'pass', observed: '6.2' });
    expect(check(ok, 'gpu.cuda')).toMatchObject({ status: 'pass', observed: '12.6' });
    expect(ok.verdict).toBe('pass');

    const old = run(
      buildFacts({
        cpu: null,
        jetson: jetsonFacts({ l4tVersion: '36.3.0', cudaVersion: '12.2' }),
      }),
      'jetson',
    );
    expect(check(old, 'jetson.jetpack')).toMatchObject({ status: 'fail', observed: '6.0' });
    expect(old.facts.jetson?.jetpackVersion).toBe('6.0');
    expect(check(old, 'gpu.cuda').status).toBe('fail');

    const unknown = run(
      buildFacts({
        jetson: jetsonFacts({
          l4tVersion: '36.9.1',
          jetpackPackageVersion: '6.9-b1',
          cudaVersion: null,
        }),
      }),
      'jetson',
    );
    const jp = check(unknown, 'jetson.jetpack');
    expect(jp.status).toBe('warn');
    expect(jp.observed).toBe('L4T 36.9.1');
    expect(jp.message).toContain('36.9.1');
    expect(jp.message).toContain('6.9-b1');
    expect(jp.message).toContain("the spec's l4tToJetpack table");
    expect(unknown.facts.jetson?.jetpackVersion).toBeNull();
    // Jetson CUDA comes with JetPack: skipped when version.json is absent.
    expect(check(unknown, 'gpu.cuda').status).toBe('skip');
  });

  it('containerd: 1.7.27 passes, 2.x warns, 1.6.x fails, missing fails', () => {
    const at = (version: string | null) =>
      check(
        run(buildFacts({ containerd: version === null ? null : { version, raw: version } }), 'compute'),
        'containerd.version',
      );
    expect(at('1.7.27').status).toBe('pass');
    expect(at('1.7.28').status).toBe('pass');
    const v2 = at('2.0.5');
    expect(v2.status).toBe('warn');
    expect(v2.message).toContain('validated line');
    expect(v2.remediation).toContain('1.7');
    expect(at('1.6.20').status).toBe('fail');
    expect(at('1.7.27~ds1').status).toBe('fail');
    const missing = at(null);
    expect(missing.status).toBe('fail');
    expect(missing.message).toContain('containerd not found');
    expect(at('nonsense').status).toBe('error');
  });

  it('containerd pre-releases sort before their release, as new (-rc) and old (~rc) agents report them', () => {
    const at = (version: string) =>
      check(run(buildFacts({ containerd: { version, raw: version } }), 'compute'), 'containerd.version');
    for (const v of ['1.7.27-rc.1', '1.7.27~rc.1', '1.7.27-beta.2', '1.7.27-alpha1']) {
      expect(at(v)).toMatchObject({ status: 'fail', observed: v });
    }
    expect(at('1.7.28-rc.1').status).toBe('pass');
    expect(at('2.0.0-rc.3').status).toBe('warn');
    // A Debian revision is not a pre-release.
    expect(at('1.7.27-1').status).toBe('pass');
  });

  it('os.release: Ubuntu 24.04 passes, 20.04 fails, RHEL 9 and Rocky warn, Debian fails', () => {
    const os = (id: string, versionId: string, idLike: string[] = []) =>
      check(
        run(
          buildFacts({ os: { id, versionId, prettyName: null, idLike, kernelRelease: null } }),
          'control-plane',
        ),
        'os.release',
      );
    expect(os('ubuntu', '24.04').status).toBe('pass');
    expect(os('ubuntu', '20.04')).toMatchObject({ status: 'fail', observed: 'ubuntu 20.04' });
    const rhel = os('rhel', '9.4', ['fedora']);
    expect(rhel.status).toBe('warn');
    expect(rhel.message).toContain('enterprise Linux');
    expect(os('rocky', '9.3', ['rhel', 'centos', 'fedora']).status).toBe('warn');
    expect(os('debian', '12').status).toBe('fail');
  });

  it('operator with too little memory fails memory.total', () => {
    const r = run(buildFacts({ memory: { totalBytes: 7.7 * GB } }), 'operator');
    expect(check(r, 'memory.total')).toMatchObject({ status: 'fail', observed: '7.7 GB', expected: '≥ 8GB' });
    expect(check(r, 'memory.total').message).toContain('below the 8GB required for role operator');
    expect(r.verdict).toBe('fail');
    expect(
      check(run(buildFacts({ memory: { totalBytes: 8 * GB } }), 'operator'), 'memory.total').status,
    ).toBe('pass');
  });

  it('control-plane with less than 200 GB free on / fails disk.free, reading the / disk', () => {
    const r = run(
      buildFacts({
        disks: [
          { path: '/var/lib/containerd', capacityBytes: 2000 * GB, freeBytes: 1900 * GB },
          { path: '/', capacityBytes: 500 * GB, freeBytes: 150 * GB },
        ],
      }),
      'control-plane',
    );
    expect(check(r, 'disk.free')).toMatchObject({ status: 'fail', observed: '150 GB', expected: '≥ 200GB' });
    expect(check(r, 'disk.capacity').status).toBe('pass');
    expect(check(r, 'disk.free').message).toContain('a 200 GB disk can never pass: plan a larger disk');
    // An older agent (no block device facts): the filesystem's size stands in, and the observed value says so.
    const old196 = run(
      buildFacts({ disks: [{ path: '/', capacityBytes: 196 * GB, freeBytes: 180 * GB }] }),
      'control-plane',
    );
    expect(check(old196, 'disk.capacity')).toMatchObject({
      status: 'fail',
      observed: 'filesystem 196 GB (the agent did not resolve the disk)',
    });
    const noRoot = run(buildFacts({ disks: [] }), 'control-plane');
    expect(check(noRoot, 'disk.free').status).toBe('error');
  });

  it('disk.capacity measures the disk holding /, showing the filesystem beside it', () => {
    // ext4 on an exactly 50·10⁹-byte disk: the filesystem shows 48.8 GB, the disk is what the requirement names.
    const exact50 = buildFacts({
      disks: [
        {
          path: '/',
          capacityBytes: 48_800_000_000,
          freeBytes: 45 * GB,
          blockDevice: { name: 'vda1', kind: 'partition', bytes: 49_900_000_000, stack: 'vda1 → vda' },
          blockDisks: [{ name: 'vda', bytes: 50 * GB }],
          diskBytes: 50 * GB,
          capacitySource: 'disk',
          capacityNote: 'disk vda (vda1 → vda)',
        },
      ],
    });
    const r = run(exact50, 'operator');
    expect(check(r, 'disk.capacity')).toMatchObject({
      status: 'pass',
      observed: 'disk vda 50 GB (filesystem 48.8 GB)',
    });
    expect(check(r, 'disk.free').status).toBe('skip');
    // LVM over two disks: the logical volume's size, named as the device.
    const lvm = buildFacts({
      disks: [
        {
          path: '/',
          capacityBytes: 190 * GB,
          freeBytes: 10 * GB,
          blockDevice: { name: 'dm-0', kind: 'dm', bytes: 199 * GB, stack: 'dm-0 → sda2, sdb1' },
          blockDisks: [
            { name: 'sda', bytes: 100 * GB },
            { name: 'sdb', bytes: 100 * GB },
          ],
          diskBytes: 199 * GB,
          capacitySource: 'device',
          capacityNote: 'dm device dm-0 over 2 disks',
        },
      ],
    });
    expect(check(run(lvm, 'control-plane'), 'disk.capacity')).toMatchObject({
      status: 'fail',
      observed: 'device dm-0 199 GB (filesystem 190 GB)',
    });
    // Unresolved (overlay root): the filesystem stands in and the reason is shown.
    const overlay = buildFacts({
      disks: [
        {
          path: '/',
          capacityBytes: 60 * GB,
          freeBytes: 30 * GB,
          blockDevice: null,
          blockDisks: [],
          diskBytes: null,
          capacitySource: 'filesystem',
          capacityNote:
            'filesystem size (the disk could not be resolved: not-a-block-device: / is overlay from "overlay", not on a block device)',
        },
      ],
    });
    expect(check(run(overlay, 'operator'), 'disk.capacity')).toMatchObject({
      status: 'pass',
      observed:
        'filesystem 60 GB (the disk could not be resolved: not-a-block-device: / is overlay from "overlay", not on a block device)',
    });
  });

  it('control-plane cores and arch', () => {
    const r = run(
      buildFacts({ cpu: { arch: 'aarch64', logicalCores: 8, physicalCores: null, model: null } }),
      'control-plane',
    );
    expect(check(r, 'cpu.cores')).toMatchObject({ status: 'fail', observed: '8', expected: '≥ 12' });
    expect(check(r, 'cpu.arch').status).toBe('pass');
    const ppc = run(
      buildFacts({ cpu: { arch: 'ppc64le', logicalCores: 64, physicalCores: null, model: null } }),
      'operator',
    );
    expect(check(ppc, 'cpu.arch').status).toBe('fail');
  });

  it('registries: unreachable fails naming the registry, skipped probe skips', () => {
    const facts = buildFacts();
    const down = run(
      { ...facts, registries: [...(facts.registries ?? []).slice(0, 2), unreachable('docker.io')] },
      'compute',
    );
    const reg = check(down, 'registry.reachable');
    expect(reg.status).toBe('fail');
    expect(reg.message).toContain('docker.io (getaddrinfo ENOTFOUND)');
    expect(reg.remediation).toContain('443');
    const skipped = run({ ...facts, registries: null }, 'compute');
    expect(check(skipped, 'registry.reachable')).toMatchObject({ status: 'skip' });
    expect(check(skipped, 'registry.reachable').message).toContain('--registries none');
  });

  it('dns.resolution: a failed host-name lookup fails; an untested one is skip, never pass', () => {
    const untested = run(
      buildFacts({ dns: { nameservers: ['127.0.0.53'], hostnameResolves: null } }),
      'compute',
    );
    expect(check(untested, 'dns.resolution')).toMatchObject({
      status: 'skip',
      observed: 'nameservers 127.0.0.53; host name not tested',
    });
    const resolves = run(
      buildFacts({ dns: { nameservers: ['127.0.0.53'], hostnameResolves: true } }),
      'compute',
    );
    expect(check(resolves, 'dns.resolution').status).toBe('pass');
    const r = run(buildFacts({ dns: { nameservers: ['127.0.0.53'], hostnameResolves: false } }), 'compute');
    expect(check(r, 'dns.resolution').status).toBe('fail');
    expect(r.verdict).toBe('fail');
  });

  describe('node.label', () => {
    const labels = (l: Record<string, string>): NodeLabelContext => ({ labels: l });
    it('labelled gpu without a GPU fails; labelled jetson without a Jetson fails', () => {
      expect(
        check(run(buildFacts(), 'gpu', { labels: labels({ 'node-type': 'gpu' }) }), 'node.label').status,
      ).toBe('fail');
      expect(
        check(run(buildFacts(), 'jetson', { labels: labels({ 'node-type': 'jetson' }) }), 'node.label')
          .status,
      ).toBe('fail');
    });
    it('GPUs on the PCI bus without a driver: the gpu label matches, another label warns', () => {
      const facts = buildFacts({ gpu: null, pci: { nvidiaGpus: 1 } });
      expect(check(run(facts, 'gpu', { labels: labels({ 'node-type': 'gpu' }) }), 'node.label').status).toBe(
        'pass',
      );
      expect(
        check(run(facts, 'compute', { labels: labels({ 'node-type': 'compute' }) }), 'node.label').status,
      ).toBe('warn');
    });
    it('a GPU without the gpu label warns', () => {
      const c = check(
        run(buildFacts({ gpu: gpuFacts() }), 'compute', { labels: labels({ 'node-type': 'compute' }) }),
        'node.label',
      );
      expect(c).toMatchObject({ status: 'warn', observed: 'node-type=compute' });
      expect(c.message).toContain('node-type=gpu');
    });
    it('no role label at all warns that the role came from facts', () => {
      const c = check(run(buildFacts(), 'compute', { labels: labels({}), source: 'facts' }), 'node.label');
      expect(c.status).toBe('warn');
      expect(c.message).toContain('role taken from facts');
    });
    it('matching label and hardware passes; the control-plane label counts as a role label', () => {
      expect(
        check(
          run(buildFacts({ gpu: gpuFacts() }), 'gpu', { labels: labels({ 'node-type': 'gpu' }) }),
          'node.label',
        ).status,
      ).toBe('pass');
      const cp = run(buildFacts({ gpu: gpuFacts() }), 'control-plane', {
        labels: labels({ 'node-role.kubernetes.io/control-plane': '' }),
      });
      expect(check(cp, 'node.label').status).toBe('pass');
    });
    it('a gpu probe error with a gpu label is error, not fail or pass', () => {
      const r = run(buildFacts(), 'gpu', {
        labels: labels({ 'node-type': 'gpu' }),
        probeErrors: [{ probe: 'gpu', kind: 'exec-failed', message: 'boom' }],
      });
      expect(check(r, 'node.label').status).toBe('error');
    });
    it('without labels (the check command) it is skip', () => {
      expect(check(run(buildFacts({ gpu: gpuFacts() }), 'gpu'), 'node.label').status).toBe('skip');
    });
  });

  it('is fast enough for the aggregator (compiled once per spec)', () => {
    const facts = buildFacts({ gpu: gpuFacts('535.216.03', '12.2') });
    const input = { node: 'n', facts, probeErrors: [], collectedAt: 'x' };
    const decision: RoleDecision = { role: 'gpu', source: 'flag' };
    const n = 20_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) evaluate(input, spec, decision);
    const perSecond = n / ((performance.now() - t0) / 1000);
    // Generous bound for a shared 2-core machine; typically far above 100k/s.
    expect(perSecond).toBeGreaterThan(10_000);
  });
});

describe('disk.filling (kubelet hard eviction thresholds, every role)', () => {
  const disks = (rootFree: number, ctrFree: number) => [
    { path: '/', capacityBytes: 100 * GB, freeBytes: rootFree * GB },
    { path: '/var/lib/containerd', capacityBytes: 200 * GB, freeBytes: ctrFree * GB },
  ];
  const input = (facts: Facts) => ({
    node: 'n',
    facts,
    probeErrors: [],
    collectedAt: '2025-01-01T00:00:00Z',
  });
  it('warns below 10 % free on / or 15 % on the containerd root, on compute, gpu and jetson nodes too', async () => {
    const spec = await loadSpec();
    for (const role of ['compute', 'gpu', 'jetson', 'operator', 'control-plane'] as const) {
      const ok = evaluate(input(buildFacts({ disks: disks(50, 100) })), spec, { role, source: 'flag' });
      expect(ok.checks.find((c) => c.id === 'disk.filling')?.status).toBe('pass');
      const low = evaluate(input(buildFacts({ disks: disks(9, 100) })), spec, { role, source: 'flag' });
      expect(low.checks.find((c) => c.id === 'disk.filling')).toMatchObject({
        status: 'warn',
        observed: '/ 9.0% free (9 GB); /var/lib/containerd 50.0% free (100 GB)',
        message: expect.stringContaining('/ 9.0% free < 10% (nodefs.available)'),
      });
    }
    const images = evaluate(input(buildFacts({ disks: disks(50, 28) })), spec, {
      role: 'gpu',
      source: 'flag',
    });
    expect(images.checks.find((c) => c.id === 'disk.filling')?.message).toContain(
      '/var/lib/containerd 14.0% free < 15% (imagefs.available)',
    );
  });
});
