import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ProbeFailure } from '../../../agent/probe-failure.js';
import {
  findEncryptionConfigFlag,
  hostPathMounts,
  translateToHost,
} from '../../../agent/probes/api-server-encryption.js';
import { parseContainerdVersion } from '../../../agent/probes/containerd.js';
import { normaliseArch, parseCpuinfo, parseCpuList } from '../../../agent/probes/cpu.js';
import { parseResolvConf } from '../../../agent/probes/dns.js';
import { parseHostname } from '../../../agent/probes/hostname.js';
import { parseCudaVersionJson, parseNvTegraRelease } from '../../../agent/probes/jetson.js';
import { parseMeminfo } from '../../../agent/probes/memory.js';
import { parseOsRelease } from '../../../agent/probes/os.js';
import { parseRegistryTarget } from '../../../agent/probes/registries.js';
import { realFixturePath } from '../../helpers/fixture-host.js';

const real = (name: string) => readFile(realFixturePath(name), 'utf8');

function parseFailure(fn: () => unknown): ProbeFailure {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProbeFailure) return e;
    throw e;
  }
  throw new Error('expected a ProbeFailure, got a value');
}

describe('containerd --version (real outputs)', () => {
  const cases: Array<[string, string]> = [
    ['containerd--version_dockerpkg_containerd.io_1.3.7.txt', '1.3.7'],
    ['containerd--version_dockerpkg_containerd.io_1.6.21.txt', '1.6.21'],
    ['containerd--version_dockerpkg_containerd.io_1.7.20.txt', '1.7.20'],
    ['containerd--version_dockerpkg_containerd.io_1.7.27.txt', '1.7.27'],
    ['containerd--version_upstream_v1.6.21.txt', '1.6.21'],
    ['containerd--version_upstream_v1.7.16.txt', '1.7.16'],
    ['containerd--version_upstream_v2.1.4.txt', '2.1.4'],
    ['containerd--version_upstream_v2.2.1.txt', '2.2.1'],
    ['docker-containerd--version_legacy_0.2.4.txt', '0.2.4'],
  ];
  for (const [file, version] of cases) {
    it(file, async () => {
      const text = await real(`containerd/${file}`);
      expect(parseContainerdVersion(text)).toEqual({ version, raw: text.trim() });
    });
  }
  it('normalises distro builds', () => {
    expect(parseContainerdVersion('containerd 1.6.20~ds1 1.6.20~ds1-1+b1\n').version).toBe('1.6.20');
    expect(parseContainerdVersion('containerd 1.6.12-0ubuntu1~22.04.1\n').version).toBe('1.6.12');
  });
  it('keeps upstream pre-releases as upstream text (no leading v, no distro suffix)', () => {
    const v = (line: string) => parseContainerdVersion(line).version;
    expect(v('containerd github.com/containerd/containerd v2.0.0-rc.3 abc\n')).toBe('2.0.0-rc.3');
    expect(v('containerd github.com/containerd/containerd/v2 v2.0.0-beta.2 abc\n')).toBe('2.0.0-beta.2');
    expect(v('containerd containerd.io 1.7.27-rc.1 abc\n')).toBe('1.7.27-rc.1');
    expect(v('containerd github.com/containerd/containerd v1.7.0-alpha1 abc\n')).toBe('1.7.0-alpha1');
    expect(v('containerd 1.6.12-0ubuntu1~22.04.1\n')).toBe('1.6.12');
  });
  it('rejects output that is not containerd --version', () => {
    expect(parseFailure(() => parseContainerdVersion('bash: containerd: command not found')).kind).toBe(
      'parse',
    );
    expect(parseFailure(() => parseContainerdVersion('containerd containerd.io unknown')).kind).toBe('parse');
  });
});

describe('os-release (real files)', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    [
      'os-release_Ubuntu22.04.5_ssst0n3.txt',
      { id: 'ubuntu', versionId: '22.04', prettyName: 'Ubuntu 22.04.5 LTS', idLike: ['debian'] },
    ],
    [
      'os-release_Ubuntu24.04.2_ssst0n3.txt',
      { id: 'ubuntu', versionId: '24.04', prettyName: 'Ubuntu 24.04.2 LTS', idLike: ['debian'] },
    ],
    [
      'os-release_Ubuntu24.04.3_python-distro.txt',
      { id: 'ubuntu', versionId: '24.04', prettyName: 'Ubuntu 24.04.3 LTS', idLike: ['debian'] },
    ],
    [
      'os-release_RHEL9.6_python-distro.txt',
      { id: 'rhel', versionId: '9.6', prettyName: 'Red Hat Enterprise Linux 9.6 (Plow)', idLike: ['fedora'] },
    ],
    [
      'os-release_Rocky9_python-distro.txt',
      {
        id: 'rocky',
        versionId: '9.3',
        prettyName: 'Rocky Linux 9.3 (Blue Onyx)',
        idLike: ['rhel', 'centos', 'fedora'],
      },
    ],
    [
      'os-release_L4T-Ubuntu22.04.5_JetPack6_boxcutter.txt',
      { id: 'ubuntu', versionId: '22.04', prettyName: 'Ubuntu 22.04.5 LTS', idLike: ['debian'] },
    ],
    [
      'os-release_L4T-Ubuntu20.04.6_JetPack5_boxcutter.txt',
      { id: 'ubuntu', versionId: '20.04', prettyName: 'Ubuntu 20.04.6 LTS', idLike: ['debian'] },
    ],
  ];
  for (const [file, want] of cases) {
    it(file, async () => {
      expect(parseOsRelease(await real(`os-release/${file}`), '6.8.0-86-generic')).toEqual({
        ...want,
        kernelRelease: '6.8.0-86-generic',
      });
    });
  }
  it('handles single quotes, escapes and comments', () => {
    const os = parseOsRelease(
      'ID=\'my os\'\nVERSION_ID="1.\\"2\\"" # note\n# comment\nPRETTY_NAME=a\\ b\n',
      null,
    );
    expect(os).toEqual({
      id: 'my os',
      versionId: '1."2"',
      prettyName: 'a b',
      idLike: [],
      kernelRelease: null,
    });
  });
  it('fails without ID', () => {
    expect(parseFailure(() => parseOsRelease('NAME="x"\n', null)).kind).toBe('parse');
  });
});

describe('nv_tegra_release (real files)', () => {
  // The JetPack release of each L4T release is the spec's to tell: test/spec/jetpack.test.ts.
  const cases: Array<[string, string]> = [
    ['nv_tegra_release_R36.4.3_JetPack6.2_boxcutter.txt', '36.4.3'],
    ['nv_tegra_release_R36.4.4_JetPack6.2.1_boxcutter.txt', '36.4.4'],
    ['nv_tegra_release_R35.4.1_JetPack5.1.2_boxcutter.txt', '35.4.1'],
  ];
  for (const [file, l4t] of cases) {
    it(file, async () => {
      expect(parseNvTegraRelease(await real(`jetson/${file}`)).l4tVersion).toBe(l4t);
    });
  }
  it('reads the board', async () => {
    expect(
      parseNvTegraRelease(await real('jetson/nv_tegra_release_R35.4.1_JetPack5.1.2_boxcutter.txt')).board,
    ).toBe('t186ref');
    expect(
      parseNvTegraRelease('# R32 (release), REVISION: 7.1, GCID: 1, BOARD: t210ref, EABI: aarch64'),
    ).toEqual({
      l4tVersion: '32.7.1',
      board: 't210ref',
    });
  });
  it('rejects garbage instead of making up a version', () => {
    expect(parseFailure(() => parseNvTegraRelease('hello world\n')).kind).toBe('parse');
    expect(parseFailure(() => parseNvTegraRelease('# R36 (release), REVISION: x.y')).kind).toBe('parse');
    expect(parseFailure(() => parseNvTegraRelease('')).kind).toBe('parse');
  });
  it('reads cuda version.json', () => {
    expect(parseCudaVersionJson('{"cuda":{"name":"CUDA SDK","version":"12.6.68"}}')).toBe('12.6.68');
    expect(parseCudaVersionJson('{}')).toBeNull();
    expect(parseFailure(() => parseCudaVersionJson('{not json')).kind).toBe('parse');
  });
});

describe('proc parsers', () => {
  it('meminfo MemTotal kB → bytes', () => {
    expect(parseMeminfo('MemTotal:       16374824 kB\nMemFree: 1 kB\n')).toEqual({
      totalBytes: 16374824 * 1024,
    });
  });
  it('meminfo without MemTotal is a parse error', () => {
    const e = parseFailure(() => parseMeminfo('MemFree:        1234 kB\n'));
    expect(e.kind).toBe('parse');
    expect(e.message).toMatch(/MemTotal/);
  });
  it('cpu lists', () => {
    expect(parseCpuList('0-63\n')).toBe(64);
    expect(parseCpuList('0-3,8-11,16\n')).toBe(9);
    expect(parseCpuList('0')).toBe(1);
    expect(parseFailure(() => parseCpuList('zero')).kind).toBe('parse');
    expect(parseFailure(() => parseCpuList('5-2')).kind).toBe('parse');
  });
  it('arch names', () => {
    expect(normaliseArch('aarch64\n')).toBe('arm64');
    expect(normaliseArch('x86_64')).toBe('x86_64');
    expect(normaliseArch('riscv64')).toBe('riscv64');
  });
  it('x86 cpuinfo: physical cores from (physical id, core id)', () => {
    const block = (p: number, phys: number, core: number) =>
      `processor\t: ${p}\nmodel name\t: Intel(R) Xeon(R)\nphysical id\t: ${phys}\ncore id\t\t: ${core}\n`;
    const text = [block(0, 0, 0), block(1, 0, 1), block(2, 0, 0), block(3, 0, 1)].join('\n');
    expect(parseCpuinfo(text)).toEqual({ processors: 4, physicalCores: 2, model: 'Intel(R) Xeon(R)' });
  });
  it('arm cpuinfo: no topology → physicalCores null; model from CPU part', () => {
    const block = (p: number) => `processor\t: ${p}\nBogoMIPS\t: 62.50\nCPU part\t: 0xd42\n`;
    expect(parseCpuinfo([block(0), block(1)].join('\n'))).toEqual({
      processors: 2,
      physicalCores: null,
      model: '0xd42',
    });
    expect(parseCpuinfo(`${block(0)}\nHardware\t: NVIDIA Jetson\n`).model).toBe('NVIDIA Jetson');
  });
  it('hostname', () => {
    expect(parseHostname('node-1\n')).toBe('node-1');
    expect(parseHostname('\n')).toBeNull();
    expect(parseFailure(() => parseHostname('bad name\n')).kind).toBe('parse');
  });
  it('resolv.conf', () => {
    expect(parseResolvConf('# x\nnameserver 10.0.0.2\nsearch a\nnameserver fd00::1\n')).toEqual([
      '10.0.0.2',
      'fd00::1',
    ]);
  });
});

describe('kube-apiserver encryption', () => {
  it('finds the flag', () => {
    expect(findEncryptionConfigFlag('    - --encryption-provider-config=/etc/k/enc.yaml\n')).toBe(
      '/etc/k/enc.yaml',
    );
    expect(findEncryptionConfigFlag('    - --secure-port=6443\n')).toBeNull();
  });
  it("maps the flag's in-container path to the host through hostPath volumes", async () => {
    const manifest = await readFile(
      'test/fixtures/hosts/control-plane/etc/kubernetes/manifests/kube-apiserver.yaml',
      'utf8',
    );
    const mounts = await hostPathMounts(manifest);
    expect(mounts).toEqual([{ mountPath: '/etc/kubernetes/enc', hostPath: '/etc/kubernetes/enc' }]);
    const m = [
      { mountPath: '/etc/kubernetes/pki', hostPath: '/etc/kubernetes/pki' },
      { mountPath: '/etc/encryption/', hostPath: '/srv/k8s/enc' },
      { mountPath: '/etc/encryption/deep', hostPath: '/opt/deep' },
    ];
    expect(translateToHost('/etc/encryption/config.yaml', m)).toBe('/srv/k8s/enc/config.yaml');
    expect(translateToHost('/etc/encryption/deep/c.yaml', m)).toBe('/opt/deep/c.yaml');
    expect(translateToHost('/etc/encryptionx/c.yaml', m)).toBeNull();
    expect(translateToHost('/var/enc.yaml', m)).toBeNull();
    expect(await hostPathMounts('{')).toBeNull();
  });
});

describe('registry targets', () => {
  it('parses host[:port] and maps docker.io, with its default image', () => {
    expect(parseRegistryTarget('docker.io')).toEqual({
      host: 'docker.io',
      hostname: 'registry-1.docker.io',
      port: 443,
      endpoint: 'registry-1.docker.io',
      image: { repository: 'library/busybox', tag: 'latest' },
    });
    expect(parseRegistryTarget('nvcr.io').image).toEqual({
      repository: 'nvidia/cuda',
      tag: '13.0.2-base-ubuntu24.04',
    });
    expect(parseRegistryTarget('ghcr.io').image).toEqual({ repository: 'containerd/busybox', tag: '1.36' });
    // A mirror has no default image; one given wins over a default; a tagless one is :latest.
    expect(parseRegistryTarget('mirror.local:5000').image).toBeNull();
    expect(parseRegistryTarget('nvcr.io:443').image).toBeNull();
    expect(parseRegistryTarget('nvcr.io/nvidia/k8s-device-plugin:v0.19.0')).toMatchObject({
      host: 'nvcr.io',
      endpoint: 'nvcr.io',
      image: { repository: 'nvidia/k8s-device-plugin', tag: 'v0.19.0' },
    });
    expect(parseRegistryTarget('mirror.local:5000/library/busybox')).toMatchObject({
      host: 'mirror.local:5000',
      image: { repository: 'library/busybox', tag: 'latest' },
    });
    expect(parseRegistryTarget('mirror.local:5000')).toMatchObject({ hostname: 'mirror.local', port: 5000 });
    expect(parseRegistryTarget('[::1]:8443')).toMatchObject({
      hostname: '::1',
      port: 8443,
      endpoint: '[::1]:8443',
    });
    expect(parseFailure(() => parseRegistryTarget('https://x/y')).kind).toBe('parse');
  });
});
