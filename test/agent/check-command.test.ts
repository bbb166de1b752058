import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../agent/check-command.js';
import type { CheckResult, NodeResult } from '../../report/schema.js';
import { CONTRACT_CHECK_IDS } from '../helpers/contract.js';
import { fixtureHostPath } from '../helpers/fixture-host.js';
import { captureIo } from '../helpers/io.js';

async function check(host: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}, tty = false) {
  const io = captureIo(env, tty);
  const code = await run(['--host-root', fixtureHostPath(host), '--registries', 'none', ...extra], io);
  return { code, out: io.out(), err: io.err() };
}

async function checkJson(host: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const r = await check(host, ['--json', ...extra], env);
  return { ...r, result: JSON.parse(r.out) as NodeResult };
}

function byId(result: NodeResult, id: string): CheckResult {
  const c = result.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id}`);
  return c;
}

describe('check --json over fixture hosts', () => {
  it('prints one JSON document with the contract field paths', async () => {
    const { code, out, err, result } = await checkJson('ubuntu2204-gpu-pass');
    expect(err).toBe('');
    expect(out.trim().startsWith('{') && out.trim().endsWith('}')).toBe(true);
    expect(result).toMatchObject({ role: 'gpu', roleSource: 'facts' });
    expect(typeof result.node).toBe('string');
    expect(['pass', 'warn', 'fail']).toContain(result.verdict);
    expect(result.facts.cpu?.arch).toBe('x86_64');
    expect(typeof result.facts.cpu?.logicalCores).toBe('number');
    expect(typeof result.facts.memory?.totalBytes).toBe('number');
    expect(result.facts.os).toMatchObject({ id: 'ubuntu', versionId: '22.04' });
    expect(result.facts.gpu?.driverVersion).toBe('570.124.04');
    expect(result.facts.gpu?.devices[0]).toHaveProperty('uuid');
    expect(result.facts.jetson).toBeNull();
    expect(result.facts.containerd?.version).toBe('1.7.27');
    expect(Array.isArray(result.probeErrors)).toBe(true);
    for (const c of result.checks) {
      expect(Object.keys(c)).toEqual(
        expect.arrayContaining(['id', 'status', 'observed', 'expected', 'message', 'remediation']),
      );
    }
    expect(result.checks.map((c) => c.id)).toEqual(expect.arrayContaining([...CONTRACT_CHECK_IDS]));
    const device = result.facts.gpu?.devices[0];
    expect(device).toMatchObject({ name: expect.any(String), uuid: expect.any(String) });
    expect(typeof device?.memoryMiB).toBe('number');
    expect(result.facts.gpu?.cudaVersion).toEqual(expect.any(String));
    expect(byId(result, 'gpu.driver').status).toBe('pass');
    expect(byId(result, 'gpu.cuda').status).toBe('pass');
    expect(byId(result, 'registry.reachable').status).toBe('skip');
    // Every check passes or is skipped (the fixture's host name resolves), so the verdict is pass.
    expect(result.verdict).toBe('pass');
    expect(code).toBe(0);
  });

  it('a Jetson has the contract jetson field paths', async () => {
    const { result } = await checkJson('jetson-jp62');
    expect(result.facts.jetson).toMatchObject({ l4tVersion: expect.any(String), jetpackVersion: '6.2' });
    expect(result.facts.gpu).toBeNull();
    expect(result.checks.map((c) => c.id)).toEqual(expect.arrayContaining([...CONTRACT_CHECK_IDS]));
  });

  // Literal outcomes per fixture host (registries skipped): exit, verdict, role, and every check that is
  // neither pass nor skip. gpu-nvidia-smi-hangs is left out (it waits for the gpu probe's timeout; see
  // test/agent/probes/failures.test.ts); its sibling gpu-driver-failure covers the probe-error path.
  it.each([
    ['ubuntu2204-gpu-pass', 0, 'pass', 'gpu', []],
    ['gpu-operator', 0, 'pass', 'gpu', []],
    ['gpu-old-driver', 1, 'fail', 'gpu', ['gpu.driver:fail', 'gpu.cuda:fail']],
    ['gpu-535-216-cuda-caveat', 1, 'fail', 'gpu', ['gpu.cuda:fail']],
    // The GPU is on the PCI bus, so auto is gpu even though nvidia-smi fails; its checks read error.
    ['gpu-driver-failure', 1, 'fail', 'gpu', ['gpu.driver:error', 'gpu.cuda:error']],
    ['control-plane', 1, 'fail', 'control-plane', ['cpu.cores:fail', 'memory.total:fail', 'disk.free:fail']],
    ['jetson-jp60', 1, 'fail', 'jetson', ['gpu.cuda:fail', 'jetson.jetpack:fail']],
    ['jetson-jp62', 0, 'pass', 'jetson', []],
    ['containerd-2x', 0, 'warn', 'compute', ['containerd.version:warn']],
    ['rhel9', 0, 'warn', 'compute', ['os.release:warn']],
    ['bare', 1, 'fail', 'compute', ['containerd.version:fail']],
  ] as const)('%s: exit %i, verdict %s, role %s', async (host, exit, verdict, role, notPassing) => {
    const { code, result } = await checkJson(host);
    expect(result).toMatchObject({ verdict, role, roleSource: 'facts' });
    const shown = result.checks
      .filter((c) => c.status !== 'pass' && c.status !== 'skip')
      .map((c) => `${c.id}:${c.status}`);
    expect(shown).toEqual(notPassing);
    expect(code).toBe(exit);
  });

  it("dns.resolution never uses this machine's resolver: the host's getent, else not tested (skip, never pass)", async () => {
    // ubuntu2204-gpu-pass has a getent fake under its root; bare has none (this machine's PATH has one).
    const withGetent = await checkJson('ubuntu2204-gpu-pass');
    expect(withGetent.result.facts.dns?.hostnameResolves).toBe(true);
    const without = await checkJson('bare');
    expect(without.result.facts.dns?.hostnameResolves).toBeNull();
    expect(byId(without.result, 'dns.resolution')).toMatchObject({
      status: 'skip',
      observed: expect.stringContaining('host name not tested'),
    });
  });

  it('the control-plane fixture is recognised by its kube-apiserver manifest', async () => {
    const { out } = await check('control-plane');
    const { result } = await checkJson('control-plane');
    expect(result.facts.apiServerEncryption?.manifestFound).toBe(true);
    expect(out).toContain('role: control-plane (auto: kube-apiserver static pod manifest found');
  });

  it('old driver: gpu.driver and gpu.cuda fail, exit 1', async () => {
    const { code, result } = await checkJson('gpu-old-driver');
    expect(byId(result, 'gpu.driver')).toMatchObject({ status: 'fail', observed: '535.54.03' });
    expect(byId(result, 'gpu.cuda')).toMatchObject({ status: 'fail', observed: '12.2' });
    expect(result.verdict).toBe('fail');
    expect(code).toBe(1);
  });

  it('a failing nvidia-smi is a probe error: the GPU checks are error, exit 1', async () => {
    const { code, result } = await checkJson('gpu-driver-failure');
    expect(result.probeErrors.map((e) => e.probe)).toContain('gpu');
    expect(byId(result, 'gpu.driver').status).toBe('error');
    expect(code).toBe(1);
  });

  it('Jetson JetPack 6.0 fails jetson.jetpack; 6.2 passes', async () => {
    const old = await checkJson('jetson-jp60');
    expect(old.result.role).toBe('jetson');
    expect(byId(old.result, 'jetson.jetpack')).toMatchObject({ status: 'fail', observed: '6.0' });
    expect(old.code).toBe(1);
    const ok = await checkJson('jetson-jp62');
    expect(byId(ok.result, 'jetson.jetpack')).toMatchObject({ status: 'pass', observed: '6.2' });
  });

  it('containerd 2.x warns and RHEL 9 warns os.release', async () => {
    const c2 = await checkJson('containerd-2x');
    expect(byId(c2.result, 'containerd.version').status).toBe('warn');
    expect(c2.result.verdict).toBe('warn');
    expect(c2.code).toBe(0);
    const rhel = await checkJson('rhel9');
    expect(byId(rhel.result, 'os.release').status).toBe('warn');
  });

  it("auto reads the kubelet's --node-labels first: kubeadm-flags.env registers node-type=operator", async () => {
    const { code, result } = await checkJson('operator-small-memory');
    expect(result).toMatchObject({ role: 'operator', roleSource: 'kubelet:node-type=operator' });
    expect(result.facts.kubelet).toEqual({
      commandFrom: 'kubeadm-files',
      nodeType: 'operator',
      nodeTypeFile: '/var/lib/kubelet/kubeadm-flags.env',
      labels: { 'node-type': 'operator' },
    });
    expect(byId(result, 'memory.total').status).toBe('fail');
    expect(code).toBe(1);
  });

  it('--role overrides auto; operator with little memory fails memory.total', async () => {
    const { code, result } = await checkJson('operator-small-memory', ['--role', 'operator']);
    expect(result).toMatchObject({ role: 'operator', roleSource: 'flag' });
    expect(byId(result, 'memory.total')).toMatchObject({ status: 'fail', expected: '≥ 8GB' });
    expect(code).toBe(1);
  });

  it('a host without containerd fails containerd.version', async () => {
    const { result } = await checkJson('bare');
    expect(result.facts.containerd).toBeNull();
    expect(byId(result, 'containerd.version').status).toBe('fail');
  });

  it('node name: --node-name, then NODE_NAME, then the host name, lowercased', async () => {
    expect((await checkJson('bare', ['--node-name', 'Node-A'])).result.node).toBe('node-a');
    expect((await checkJson('bare', [], { NODE_NAME: 'From-Env' })).result.node).toBe('from-env');
    expect((await checkJson('bare')).result.node).toBe('bare-01');
  });

  it('node name: a host root without a valid hostname exits 2 naming the source, never "unknown"', async () => {
    const root = await mkdtemp(join(tmpdir(), 'check-nodename-'));
    const runIn = async (extra: string[] = [], env: NodeJS.ProcessEnv = {}) => {
      const io = captureIo(env);
      const args = ['--host-root', root, '--exec-mode', 'chroot', '--registries', 'none', '--json'];
      const code = await run([...args, ...extra], io);
      return { code, out: io.out(), err: io.err() };
    };
    try {
      const none = await runIn();
      expect(none).toMatchObject({ code: 2, out: '' });
      expect(none.err).toContain(`cannot tell the node name: no hostname found under ${root}`);
      await mkdir(join(root, 'etc'));
      await writeFile(join(root, 'etc/hostname'), 'bad_name\n');
      const bad = await runIn();
      expect(bad).toMatchObject({ code: 2, out: '' });
      expect(bad.err).toContain(
        `the host's hostname (read under ${root}): "bad_name" is not a valid node name`,
      );
      // An explicit name still works on such a host.
      const named = await runIn([], { NODE_NAME: 'N1' });
      expect(named.code).not.toBe(2);
      expect((JSON.parse(named.out) as NodeResult).node).toBe('n1');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('node name: an invalid NODE_NAME exits 2 before probing', async () => {
    const { code, err, out } = await check('bare', [], { NODE_NAME: 'Bad_Env' });
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toContain('NODE_NAME: "Bad_Env" is not a valid node name');
  });

  it('probes the given registries: an unreachable one fails registry.reachable', async () => {
    const io = captureIo();
    const code = await run(
      [
        '--host-root',
        fixtureHostPath('ubuntu2204-gpu-pass'),
        '--registries',
        '127.0.0.1:1',
        '--timeout',
        '2s',
        '--json',
      ],
      io,
    );
    const result = JSON.parse(io.out()) as NodeResult;
    const reg = byId(result, 'registry.reachable');
    expect(reg.status).toBe('fail');
    expect(reg.message).toContain('127.0.0.1:1');
    expect(code).toBe(1);
  });
});

describe('check table output', () => {
  it('says how the role was chosen and shows the CUDA caveat under gpu.cuda', async () => {
    const { code, out } = await check('gpu-535-216-cuda-caveat');
    expect(out).toContain('role: gpu (auto: NVIDIA GPU found');
    expect(out).toMatch(/^pass\s+gpu\.driver\s+535\.216\.03/m);
    expect(out).toMatch(/^FAIL\s+gpu\.cuda\s+12\.2\s+≥ 12\.6/m);
    expect(out).toContain('cuda-compat-12-6');
    expect(out).toContain('fix: ');
    expect(out).toMatch(/^verdict: FAIL — /m);
    expect(out).not.toContain('\x1b[');
    expect(code).toBe(1);
  });

  it('colours only on a TTY without NO_COLOR', async () => {
    expect((await check('bare', [], {}, true)).out).toContain('\x1b[');
    expect((await check('bare', [], { NO_COLOR: '1' }, true)).out).not.toContain('\x1b[');
  });

  it('lists probe errors', async () => {
    const { out } = await check('gpu-driver-failure');
    expect(out).toContain('probe errors:');
    expect(out).toMatch(/^ {2}gpu \(/m);
  });

  it('--role flag is shown as such', async () => {
    const { out } = await check('bare', ['--role', 'control-plane']);
    expect(out).toContain('role: control-plane (--role)');
  });
});

describe('check cannot run: exit 2', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'check-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    [['--role', 'worker'], '--role'],
    [['--exec-mode', 'docker'], '--exec-mode'],
    [['--bogus'], "'--bogus'"],
    [['--registries', 'not a host'], '--registries'],
    [['--timeout', '5'], '--timeout'],
    [['--node-name', ''], '--node-name: empty'],
    [['--host-root', '/does/not/exist'], '--host-root'],
    [['--node-name', 'Bad_Name'], '--node-name'],
  ])('%j names the option', async (args, named) => {
    const io = captureIo();
    expect(await run(args, io)).toBe(2);
    expect(io.err()).toContain(named);
    expect(io.out()).toBe('');
  });

  it('an unreadable spec', async () => {
    const { code, err, out } = await check('bare', ['--spec', join(dir, 'nope.yaml')]);
    expect(code).toBe(2);
    expect(err).toContain('nope.yaml: cannot read the spec (ENOENT)');
    expect(out).toBe('');
  });

  it('a malformed spec names the field', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(
      file,
      `apiVersion: validator.osmo.nvidia.com/v1alpha1
kind: NodeBaseline
metadata: { name: t, revision: "1" }
checks:
  - { id: memory.total, description: m, rule: minQuantity, fact: memory.totalBytes, severity: fail,
      remediation: r, source: s, roles: { compute: { min: 8 GX } } }
`,
    );
    const { code, err } = await check('bare', ['--spec', file]);
    expect(code).toBe(2);
    expect(err).toContain('checks[0].roles.compute.min: "8 GX" is not a quantity (use 8GB, 8G, 8GiB or 8Gi)');
  });

  it('--help prints usage and exits 0', async () => {
    const io = captureIo();
    expect(await run(['--help'], io)).toBe(0);
    expect(io.out()).toContain('--registries LIST|none');
  });

  it('a custom spec replaces the baseline', async () => {
    const file = join(dir, 'small.yaml');
    await writeFile(
      file,
      `apiVersion: validator.osmo.nvidia.com/v1alpha1
kind: NodeBaseline
metadata: { name: tiny, revision: 7 }
checks:
  - { id: memory.total, description: m, rule: minQuantity, fact: memory.totalBytes, severity: fail,
      remediation: r, source: s, roles: { compute: { min: 1GiB } } }
`,
    );
    const { code, result } = await checkJson('bare', ['--spec', file]);
    expect(result.spec).toEqual({ name: 'tiny', revision: '7' });
    expect(result.checks.map((c) => c.id)).toEqual(['memory.total']);
    expect(code).toBe(0);
  });
});
