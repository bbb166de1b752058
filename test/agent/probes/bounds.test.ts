// Every fact a probe emits stays within report/schema.ts's limits: an over-long or out-of-range value is a
// ProbeFailure('parse') naming the field (never truncated, never made up), lists are cut only where the
// consumer reads the first entries anyway, and one odd file costs one probe, not the whole report.
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { collectFacts } from '../../../agent/collect.js';
import type { ExecResult, HostContext } from '../../../agent/host.js';
import { ProbeFailure } from '../../../agent/probe-failure.js';
import {
  apiServerEncryptionProbe,
  findEncryptionConfigFlag,
} from '../../../agent/probes/api-server-encryption.js';
import { parseContainerdVersion } from '../../../agent/probes/containerd.js';
import { cpuProbe, normaliseArch, parseCpuinfo, parseCpuList } from '../../../agent/probes/cpu.js';
import { containerdRootOf, disksProbe } from '../../../agent/probes/disks.js';
import { parseResolvConf } from '../../../agent/probes/dns.js';
import {
  gpuProbeWith,
  parseNvidiaSmiVersionText,
  parseNvidiaSmiXml,
  parseToolkitVersion,
} from '../../../agent/probes/gpu.js';
import { parseCudaVersionJson, parseDpkgVersion, parseNvTegraRelease } from '../../../agent/probes/jetson.js';
import { parseMeminfo } from '../../../agent/probes/memory.js';
import { parseOsRelease } from '../../../agent/probes/os.js';
import type { Probe } from '../../../agent/probes/probe.js';
import { parseRegistryTarget, registriesProbe } from '../../../agent/probes/registries.js';
import { boundedCount, boundedString } from '../../../agent/probes/support.js';
import { LIMITS } from '../../../report/limits.js';
import { Facts } from '../../../report/schema.js';

const OPTIONS = { registries: null, registryTimeoutMs: 1000 };

/** The ProbeFailure a call throws (sync or async); fails the test when it returns a value instead. */
async function failure(fn: () => unknown): Promise<ProbeFailure> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ProbeFailure) return e;
    throw e;
  }
  throw new Error('expected a ProbeFailure, got a value');
}

async function expectParseFailure(fn: () => unknown, names: RegExp): Promise<void> {
  const f = await failure(fn);
  expect(f.kind).toBe('parse');
  expect(f.message).toMatch(names);
  expect(f.message.length).toBeLessThan(300);
}

/** An in-memory host: files by path, commands by name (absent → ENOENT, as on a real host). */
function memoryHost(
  files: Record<string, string>,
  commands: Record<string, ExecResult> = {},
  statfs = { capacityBytes: 1e12, freeBytes: 5e11 },
): HostContext {
  const enoent = (what: string) => Object.assign(new Error(`ENOENT: ${what}`), { code: 'ENOENT' });
  return {
    root: '/memory',
    execMode: 'local',
    hostPath: (p) => `/memory${p}`,
    async readFile(path) {
      const text = files[path];
      if (text === undefined) throw enoent(path);
      return text;
    },
    async exists(path) {
      return path === '/' || path in files;
    },
    async statfs() {
      return statfs;
    },
    async which(command) {
      return command in commands ? `/usr/bin/${command}` : null;
    },
    async exec(command) {
      const r = commands[command];
      if (r === undefined) throw enoent(command);
      return r;
    },
  };
}

const ok = (stdout: string): ExecResult => ({ stdout, stderr: '', code: 0 });
const run = (probe: Probe, host: HostContext) => probe.run(host, OPTIONS, new AbortController().signal);

describe('support: boundedString and boundedCount', () => {
  it('strings: up to the limit in code points (as JSON Schema counts), a named parse failure beyond', async () => {
    expect(boundedString('x'.repeat(64), 64, 'thing')).toBe('x'.repeat(64));
    // 64 emoji are 128 UTF-16 units but 64 characters for the schema.
    expect(boundedString('😀'.repeat(64), 64, 'thing')).toBe('😀'.repeat(64));
    expect(boundedString(null, 64, 'thing')).toBeNull();
    await expectParseFailure(() => boundedString('x'.repeat(65), 64, 'thing'), /^thing is longer than 64/);
    await expectParseFailure(() => boundedString('😀'.repeat(65), 64, 'thing'), /thing/);
  });
  it('counts: safe integers from 0 to the maximum only', async () => {
    expect(boundedCount(0, LIMITS.count, 'n')).toBe(0);
    expect(boundedCount(LIMITS.count, LIMITS.count, 'n')).toBe(LIMITS.count);
    expect(boundedCount(LIMITS.bytes, LIMITS.bytes, 'n')).toBe(LIMITS.bytes);
    expect(boundedCount(null, LIMITS.count, 'n')).toBeNull();
    for (const bad of [LIMITS.count + 1, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e300]) {
      await expectParseFailure(() => boundedCount(bad, LIMITS.count, 'n'), /^n is not an integer from 0/);
    }
    await expectParseFailure(() => boundedCount(2 ** 53, LIMITS.bytes, 'bytes'), /bytes/);
  });
});

describe('cpu', () => {
  it('online CPU list: ids and count within Count(), huge ids never cancel out', async () => {
    expect(parseCpuList('0-999999')).toBe(LIMITS.count);
    const huge = '9'.repeat(300);
    await expectParseFailure(() => parseCpuList(`0-${huge}`), /online CPU id/);
    await expectParseFailure(() => parseCpuList(`${huge}-${huge}`), /online CPU id/);
    await expectParseFailure(() => parseCpuList('0-1000000'), /online CPU count/);
    await expectParseFailure(() => parseCpuList('5-1000001'), /online CPU id/);
    await expectParseFailure(() => parseCpuList('0-999999,0-999999'), /online CPU count/);
  });
  it('arch and model beyond Str(64) / Str() fail the probe instead of the report', async () => {
    expect(normaliseArch(`${'x'.repeat(64)}\n`)).toBe('x'.repeat(64));
    await expectParseFailure(() => normaliseArch('x'.repeat(65)), /uname -m is longer than 64/);
    await expectParseFailure(
      () => parseCpuinfo(`processor\t: 0\nmodel name\t: ${'Xeon '.repeat(60)}\n`),
      /cpuinfo model/,
    );
    const host = memoryHost(
      { '/sys/devices/system/cpu/online': '0-3\n' },
      { uname: ok(`${'y'.repeat(100)}\n`) },
    );
    await expectParseFailure(() => run(cpuProbe, host), /uname -m/);
  });
});

describe('memory and disks', () => {
  it('MemTotal beyond 2^53-1 bytes is a parse failure', async () => {
    expect(parseMeminfo('MemTotal: 8796093022207 kB\n').totalBytes).toBe(8796093022207 * 1024);
    await expectParseFailure(() => parseMeminfo('MemTotal: 8796093022208 kB\n'), /MemTotal/);
    await expectParseFailure(() => parseMeminfo(`MemTotal: ${'9'.repeat(400)} kB\n`), /MemTotal/);
  });
  it('statfs values outside Bytes() are a parse failure naming the path', async () => {
    const odd = memoryHost({}, {}, { capacityBytes: 2 ** 60, freeBytes: 1 });
    await expectParseFailure(() => run(disksProbe, odd), /statfs \/ capacity/);
    expect(await run(disksProbe, memoryHost({}))).toEqual([
      {
        path: '/',
        capacityBytes: 1e12,
        freeBytes: 5e11,
        // This in-memory host has no mount table: the filesystem's size stands in, saying why.
        blockDevice: null,
        blockDisks: [],
        diskBytes: null,
        capacitySource: 'filesystem',
        capacityNote: expect.stringMatching(
          /^filesystem size \(the disk could not be resolved: mountinfo-unreadable/,
        ),
      },
    ]);
  });
});

describe('os', () => {
  const release = (extra: string) => `ID=ubuntu\nVERSION_ID="22.04"\n${extra}`;
  it('ID, VERSION_ID, PRETTY_NAME and the kernel release within their limits', async () => {
    await expectParseFailure(() => parseOsRelease(`ID=${'u'.repeat(65)}\n`, null), /os-release ID is/);
    await expectParseFailure(
      () => parseOsRelease(`ID=ubuntu\nVERSION_ID=${'2'.repeat(65)}\n`, null),
      /VERSION_ID/,
    );
    await expectParseFailure(
      () => parseOsRelease(release(`PRETTY_NAME="${'p'.repeat(257)}"\n`), null),
      /PRETTY_NAME/,
    );
    await expectParseFailure(
      () => parseOsRelease(release(''), `5.15.0-${'1'.repeat(300)}`),
      /kernel release/,
    );
  });
  it('ID_LIKE keeps its 16 closest entries; an over-long entry is a parse failure', async () => {
    const many = Array.from({ length: 20 }, (_, i) => `d${i}`);
    expect(parseOsRelease(release(`ID_LIKE="${many.join(' ')}"\n`), null).idLike).toEqual(many.slice(0, 16));
    await expectParseFailure(
      () => parseOsRelease(release(`ID_LIKE="debian ${'d'.repeat(65)}"\n`), null),
      /ID_LIKE entry/,
    );
  });
});

describe('gpu', () => {
  const gpu = (i: number, name = 'NVIDIA H100 80GB HBM3', memory = '81559 MiB') =>
    `<gpu id="00000000:${String(i).padStart(2, '0')}:00.0"><product_name>${name}</product_name><uuid>GPU-${i}</uuid><fb_memory_usage><total>${memory}</total></fb_memory_usage></gpu>`;
  const xml = (driver: string, gpus: string) =>
    `<nvidia_smi_log><driver_version>${driver}</driver_version><cuda_version>12.2</cuda_version>${gpus}</nvidia_smi_log>`;

  it('versions, names and memory within their limits, else a parse failure', async () => {
    await expectParseFailure(() => parseNvidiaSmiXml(xml(`535.${'1'.repeat(70)}`, gpu(0))), /driver version/);
    await expectParseFailure(
      () => parseNvidiaSmiXml(xml('535.216.03', gpu(0, 'H'.repeat(257)))),
      /product_name/,
    );
    await expectParseFailure(
      () => parseNvidiaSmiXml(xml('535.216.03', gpu(0, 'H100', '2000000 MiB'))),
      /GPU memory in MiB/,
    );
    await expectParseFailure(
      () => parseNvidiaSmiVersionText(`Driver Version: 535.${'1'.repeat(70)}\n`),
      /driver version/,
    );
    await expectParseFailure(
      () => parseToolkitVersion(`version 1.17.0${'-x'.repeat(40)}`),
      /Toolkit version/,
    );
  });
  it('more than 64 GPUs: the first 64 are reported', async () => {
    const all = Array.from({ length: 70 }, (_, i) => gpu(i)).join('');
    const summary = await parseNvidiaSmiXml(xml('535.216.03', all));
    expect(summary.devices).toHaveLength(64);
    expect(summary.devices[63]?.uuid).toBe('GPU-63');
  });
  it('an over-long toolkit version fails the gpu probe with a parse error', async () => {
    const host = memoryHost(
      {},
      { 'nvidia-smi': ok(xml('535.216.03', gpu(0))), 'nvidia-ctk': ok(`version 1.${'7'.repeat(80)}.0\n`) },
    );
    await expectParseFailure(() => run(gpuProbeWith(1000), host), /Toolkit version/);
  });
});

describe('jetson', () => {
  it('L4T, board, CUDA and package versions within their limits, else a parse failure', async () => {
    await expectParseFailure(
      () => parseNvTegraRelease(`# R${'3'.repeat(70)} (release), REVISION: 4.3, BOARD: generic\n`),
      /L4T version/,
    );
    await expectParseFailure(
      () => parseNvTegraRelease(`# R36 (release), REVISION: 4.3, BOARD: ${'b'.repeat(129)}\n`),
      /BOARD/,
    );
    await expectParseFailure(
      () => parseCudaVersionJson(JSON.stringify({ cuda: { version: `12.${'6'.repeat(70)}` } })),
      /cuda\.version/,
    );
    expect(parseCudaVersionJson('{"cuda":{"version":"12.6.68"}}')).toBe('12.6.68');
    expect(parseDpkgVersion('6.2+b77\n')).toBe('6.2+b77');
    expect(parseDpkgVersion('  \n')).toBeNull();
    await expectParseFailure(
      () => parseDpkgVersion(`6.2+${'b'.repeat(130)}`),
      /nvidia-jetpack package version/,
    );
    await expectParseFailure(() => parseDpkgVersion('6.2 6.1\n'), /dpkg-query/);
  });
});

describe('containerd', () => {
  it('version and raw line within Str(64) / Str(512), else a parse failure', async () => {
    await expectParseFailure(
      () => parseContainerdVersion(`containerd 1.${'7'.repeat(70)}`),
      /containerd version/,
    );
    await expectParseFailure(
      () => parseContainerdVersion(`containerd containerd.io 1.7.27 ${'a'.repeat(600)}`),
      /containerd --version line/,
    );
  });
});

describe('dns', () => {
  it('nameservers: addresses only (like glibc), at most 16, each within Str(128)', () => {
    const text = [
      `nameserver ${'1'.repeat(200)}`,
      'nameserver not-an-address',
      'nameserver fe80::1%eth0',
      ...Array.from({ length: 20 }, (_, i) => `nameserver 10.0.0.${i}`),
    ].join('\n');
    const servers = parseResolvConf(text);
    expect(servers).toHaveLength(16);
    expect(servers[0]).toBe('fe80::1%eth0');
    expect(servers[1]).toBe('10.0.0.0');
    expect(servers.every((s) => s.length <= 128)).toBe(true);
  });
});

describe('apiServerEncryption', () => {
  it('an over-long config path fails the probe; an unknown (over-long) provider is unknown, not a guess', async () => {
    await expectParseFailure(
      () => findEncryptionConfigFlag(`- --encryption-provider-config=/${'e'.repeat(1100)}`),
      /--encryption-provider-config path/,
    );
    const longKey = 'k'.repeat(65);
    const host = memoryHost({
      '/etc/kubernetes/manifests/kube-apiserver.yaml': [
        'spec:',
        '  containers:',
        '  - name: kube-apiserver',
        '    command: [kube-apiserver, --encryption-provider-config=/etc/k/enc.yaml]',
        '    volumeMounts: [{ name: k, mountPath: /etc/k }]',
        '  volumes: [{ name: k, hostPath: { path: /etc/k } }]',
        '',
      ].join('\n'),
      '/etc/k/enc.yaml': `kind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n      - ${longKey}: {}\n`,
    });
    expect(await run(apiServerEncryptionProbe, host)).toEqual({
      manifestFound: true,
      encryptionConfigPath: '/etc/k/enc.yaml',
      firstProvider: null,
      enabled: null,
      unknownReason: expect.stringContaining('must name exactly one of aescbc'),
    });
  });
});

describe('registries', () => {
  it('an over-long or malformed registry fails the probe before any network call', async () => {
    const long = `${'r'.repeat(300)}.example`;
    await expectParseFailure(() => parseRegistryTarget(long), /is not host\[:port\]/);
    await expectParseFailure(() => parseRegistryTarget('mirror.local:70000'), /is not host\[:port\]/);
    let asked = false;
    const host: HostContext = {
      ...memoryHost({}),
      async exec() {
        asked = true;
        return ok('');
      },
    };
    for (const registries of [['nvcr.io', long], ['a..b']]) {
      await expectParseFailure(
        () => registriesProbe.run(host, { ...OPTIONS, registries }, new AbortController().signal),
        /is not host\[:port\]/,
      );
    }
    expect(asked).toBe(false);
  });
});

describe('collectFacts', () => {
  it('one odd file costs one probe: the other facts arrive and the report validates', async () => {
    const host = memoryHost(
      {
        '/etc/os-release': 'ID=ubuntu\nVERSION_ID="22.04"\n',
        '/proc/sys/kernel/osrelease': `5.15.0-${'1'.repeat(5000)}\n`,
        '/proc/meminfo': 'MemTotal: 65842732 kB\n',
        '/sys/devices/system/cpu/online': '0-63\n',
        '/proc/cpuinfo': 'processor\t: 0\nmodel name\t: Intel Xeon\n',
        '/proc/sys/kernel/hostname': 'node-1\n',
        '/etc/resolv.conf': `nameserver 10.0.0.2\nnameserver ${'9'.repeat(300)}\n`,
      },
      { uname: ok('x86_64\n') },
    );
    const { facts, probeErrors } = await collectFacts(host, OPTIONS);
    expect(probeErrors).toEqual([
      { probe: 'os', kind: 'parse', message: expect.stringMatching(/^kernel release is longer than 256/) },
    ]);
    expect(facts.os).toBeNull();
    expect(facts.cpu).toMatchObject({ arch: 'x86_64', logicalCores: 64 });
    expect(facts.memory?.totalBytes).toBe(65842732 * 1024);
    expect(facts.dns?.nameservers).toEqual(['10.0.0.2']);
    const validate = new Ajv({ strict: false }).compile(Facts);
    expect(validate(facts), JSON.stringify(validate.errors)).toBe(true);
  });
});

describe('containerd root for the disks probe', () => {
  it("reads the config's top-level root (as `containerd config default` writes it), else the default", async () => {
    // The head of `containerd config default` (containerd 1.7), with root moved to a data disk.
    const config = [
      'disabled_plugins = []',
      'imports = []',
      'oom_score = 0',
      'plugin_dir = ""',
      'required_plugins = []',
      'root = "/data/containerd"',
      'state = "/run/containerd"',
      'temp = ""',
      'version = 2',
      '',
      '[cgroup]',
      '  path = ""',
      '',
      '[plugins."io.containerd.grpc.v1.cri"]',
      '  root = "/elsewhere"',
    ].join('\n');
    expect(containerdRootOf(config)).toBe('/data/containerd');
    expect(containerdRootOf('version = 2\n[plugins]\nroot = "/x"\n')).toBeNull();
    // The in-memory host's exists() answers for its file keys: the root directory is one.
    const host = memoryHost({ '/etc/containerd/config.toml': config, '/data/containerd': '' });
    const facts = (await run(disksProbe, host)) as Array<{ path: string }>;
    expect(facts.map((d) => d.path)).toEqual(['/', '/data/containerd']);
  });
});
