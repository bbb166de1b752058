// Property-based fuzzing of every host-output parser and of the probes around them (fast-check, seeded):
// whatever a host prints or holds, a probe either returns facts or throws a typed ProbeFailure, and never
// reports a value the input did not contain. The spec loader likewise only ever throws SpecError.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type TSchema, Type } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ExecResult, HostContext } from '../../agent/host.js';
import { ProbeFailure } from '../../agent/probe-failure.js';
import { apiServerEncryptionProbe } from '../../agent/probes/api-server-encryption.js';
import { containerdProbe, parseContainerdVersion } from '../../agent/probes/containerd.js';
import { cpuProbe, parseCpuinfo, parseCpuList } from '../../agent/probes/cpu.js';
import { parseResolvConf } from '../../agent/probes/dns.js';
import { gpuProbeWith, parseNvidiaSmiXml } from '../../agent/probes/gpu.js';
import { hostnameProbe } from '../../agent/probes/hostname.js';
import { jetsonProbe, parseNvTegraRelease } from '../../agent/probes/jetson.js';
import { memoryProbe, parseMeminfo } from '../../agent/probes/memory.js';
import { osProbe, parseOsRelease } from '../../agent/probes/os.js';
import type { Probe } from '../../agent/probes/probe.js';
import {
  ApiServerEncryptionFacts,
  ContainerdFacts,
  CpuFacts,
  DnsFacts,
  GpuFacts,
  JetsonFacts,
  MemoryFacts,
  OsFacts,
} from '../../report/schema.js';
import { parseSpec, SpecError } from '../../spec/load.js';
import { realFixturePath } from '../helpers/fixture-host.js';

const SEED = 4242;
const RUNS = 300;

const real = (dir: string) =>
  readdirSync(realFixturePath(dir)).map((f) => readFileSync(realFixturePath(`${dir}/${f}`), 'utf8'));
const NVIDIA_XML = real('nvidia-smi').filter((t) => t.trimStart().startsWith('<'));
const CONTAINERD = real('containerd');
const TEGRA = real('jetson');
const OS_RELEASE = real('os-release');
const BASELINE = readFileSync(fileURLToPath(new URL('../../spec/baseline.yaml', import.meta.url)), 'utf8');

/** Real outputs, mangled: truncated, spliced with random text, or with a field made huge. */
function mangled(samples: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc.tuple(fc.constantFrom(...samples), fc.nat()).map(([s, n]) => s.slice(0, n % (s.length + 1))),
    fc
      .tuple(fc.constantFrom(...samples), fc.nat(), fc.string({ unit: 'binary', maxLength: 30 }))
      .map(([s, n, ins]) => {
        const at = n % (s.length + 1);
        return s.slice(0, at) + ins + s.slice(at);
      }),
    fc
      .tuple(
        fc.constantFrom(...samples),
        fc.nat(),
        fc.integer({ min: 60, max: 3000 }),
        fc.constantFrom('9', 'x', '.'),
      )
      .map(([s, n, len, ch]) => {
        const at = n % (s.length + 1);
        return s.slice(0, at) + ch.repeat(len) + s.slice(at);
      }),
    fc.string({ unit: 'grapheme', maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
  );
}

/** Runs a parser; returns its value, or undefined when it threw a ProbeFailure. Any other throw fails. */
async function typed<T>(fn: () => T | Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ProbeFailure) return undefined;
    throw new Error(
      `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}, not a ProbeFailure`,
    );
  }
}

const digitsOf = (v: string) => v.split(/[^0-9]+/).filter((p) => p.length > 0);

describe('parsers never throw anything but ProbeFailure and never make a value up', () => {
  it('nvidia-smi XML: a driver version only when the document carries it', async () => {
    await fc.assert(
      fc.asyncProperty(mangled(NVIDIA_XML), async (xml) => {
        const r = await typed(() => parseNvidiaSmiXml(xml));
        if (r?.driverVersion) expect(xml).toContain(r.driverVersion);
        if (r?.cudaVersion) expect(xml).toContain(r.cudaVersion);
        for (const d of r?.devices ?? []) expect(xml).toContain(d.uuid);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('nvidia-smi XML truncated anywhere before its end is a parse failure, never partial facts', async () => {
    const xml = NVIDIA_XML[0]!;
    const end = xml.lastIndexOf('>');
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: end }), async (cut) => {
        await expect(parseNvidiaSmiXml(xml.slice(0, cut))).rejects.toMatchObject({ kind: 'parse' });
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('nvidia-smi XML with a random driver_version element: the version is in the element or absent', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 40 }), async (s) => {
        const value = s.replace(/[<&]/g, '');
        const r = await typed(() =>
          parseNvidiaSmiXml(`<nvidia_smi_log><driver_version>${value}</driver_version></nvidia_smi_log>`),
        );
        if (r?.driverVersion) expect(value).toContain(r.driverVersion);
        if (!/\d+\.\d+/.test(value)) expect(r?.driverVersion ?? null).toBeNull();
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('containerd --version', async () => {
    await fc.assert(
      fc.asyncProperty(mangled(CONTAINERD), async (out) => {
        const r = await typed(() => parseContainerdVersion(out));
        if (r) expect(out).toContain(r.version);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('nv_tegra_release: an L4T version only from an "# R<major> (release), REVISION: x.y" line', async () => {
    await fc.assert(
      fc.asyncProperty(mangled(TEGRA), async (text) => {
        const r = await typed(() => parseNvTegraRelease(text));
        if (r) {
          const [major, ...rest] = r.l4tVersion.split('.');
          expect(text).toMatch(new RegExp(`R${major}\\b`));
          expect(text).toContain(rest.join('.'));
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('os-release: ID and VERSION_ID come from the file', async () => {
    await fc.assert(
      fc.asyncProperty(mangled(OS_RELEASE), async (text) => {
        const r = await typed(() => parseOsRelease(text, null));
        if (r) {
          expect(text).toMatch(/^\s*ID=/m);
          for (const part of digitsOf(r.versionId ?? '')) expect(text).toContain(part);
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('meminfo: MemTotal only from a "MemTotal: N kB" line', async () => {
    const meminfo = ['MemTotal:       65842732 kB\nMemFree:         1234 kB\n'];
    await fc.assert(
      fc.asyncProperty(mangled(meminfo), async (text) => {
        const r = await typed(() => parseMeminfo(text));
        if (r) expect(text).toContain(`MemTotal:`);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('cpuinfo and the online CPU list', async () => {
    const cpuinfo = [
      'processor\t: 0\nmodel name\t: Intel Xeon\nphysical id\t: 0\ncore id\t: 0\n\nprocessor\t: 1\nmodel name\t: Intel Xeon\nphysical id\t: 0\ncore id\t: 1\n',
    ];
    await fc.assert(
      fc.asyncProperty(mangled(cpuinfo), mangled(['0-63', '0-3,8-11,16']), async (info, list) => {
        const r = await typed(() => parseCpuinfo(info));
        if (r?.model) expect(info).toContain(r.model);
        if (r) expect(Number.isInteger(r.processors) && r.processors >= 0).toBe(true);
        const n = await typed(() => parseCpuList(list));
        if (n !== undefined) expect(Number.isInteger(n) && n > 0).toBe(true);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('the spec loader throws only SpecError, whatever the YAML', () => {
    fc.assert(
      fc.property(mangled([BASELINE]), (text) => {
        try {
          parseSpec(text, 'fuzz.yaml');
        } catch (e) {
          if (!(e instanceof SpecError)) throw new Error(`threw ${String(e)}, not a SpecError`);
        }
      }),
      { numRuns: 200, seed: SEED },
    );
  });
});

// ---- the probes on a fake host whose files and commands say anything ----

interface FakeHostContent {
  files: Record<string, string | 'EACCES'>;
  commands: Record<string, ExecResult | 'EACCES'>;
}

function fakeHost(content: FakeHostContent): HostContext {
  const fsError = (code: string, path: string) => Object.assign(new Error(`${code}: ${path}`), { code });
  return {
    root: '/fake',
    execMode: 'local',
    hostPath: (p) => `/fake${p}`,
    async readFile(path) {
      const v = content.files[path];
      if (v === undefined) throw fsError('ENOENT', path);
      if (v === 'EACCES') throw fsError('EACCES', path);
      return v;
    },
    async exists(path) {
      return path in content.files;
    },
    async statfs() {
      return { capacityBytes: 1e12, freeBytes: 5e11 };
    },
    async which(cmd) {
      return cmd in content.commands ? `/usr/bin/${cmd}` : null;
    },
    async exec(cmd) {
      const v = content.commands[cmd];
      if (v === undefined) throw fsError('ENOENT', cmd);
      if (v === 'EACCES') throw new ProbeFailure('not-executable', `${cmd} is not executable`);
      return v;
    },
  };
}

const output = (samples: string[]): fc.Arbitrary<ExecResult | 'EACCES'> =>
  fc.oneof(
    fc.record({ stdout: mangled(samples), stderr: fc.constant(''), code: fc.constant(0) }),
    fc.record({
      stdout: fc.constantFrom(
        '',
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n",
      ),
      stderr: fc.string({ maxLength: 50 }),
      code: fc.constantFrom(1, 9, 255, null),
    }),
    fc.constant('EACCES' as const),
  );

const file = (samples: string[]): fc.Arbitrary<string | 'EACCES'> =>
  fc.oneof(
    { weight: 4, arbitrary: mangled(samples) },
    { weight: 1, arbitrary: fc.constant('EACCES' as const) },
  );

const optionalEntries = <T>(entries: Record<string, fc.Arbitrary<T>>): fc.Arbitrary<Record<string, T>> =>
  fc.record(entries, { requiredKeys: [] }) as fc.Arbitrary<Record<string, T>>;

const hostContent: fc.Arbitrary<FakeHostContent> = fc.record({
  files: optionalEntries({
    '/etc/os-release': file(OS_RELEASE),
    '/proc/sys/kernel/osrelease': file(['5.15.0-100-generic\n']),
    '/proc/meminfo': file(['MemTotal:       65842732 kB\n']),
    '/proc/cpuinfo': file(['processor\t: 0\nmodel name\t: Intel Xeon\nphysical id\t: 0\ncore id\t: 0\n']),
    '/sys/devices/system/cpu/online': file(['0-63']),
    '/etc/nv_tegra_release': file(TEGRA),
    '/usr/local/cuda/version.json': file(['{"cuda":{"name":"CUDA SDK","version":"12.6.68"}}']),
    '/sys/devices/soc0/family': file(['Tegra\n']),
    '/proc/sys/kernel/hostname': file(['node-1\n']),
    '/etc/kubernetes/manifests/kube-apiserver.yaml': file([
      '    - --encryption-provider-config=/etc/kubernetes/enc.yaml\n',
    ]),
    '/etc/kubernetes/enc.yaml': file([
      'resources:\n  - resources: [secrets]\n    providers:\n      - aescbc: {}\n',
    ]),
  }),
  commands: optionalEntries({
    'nvidia-smi': output(NVIDIA_XML),
    containerd: output(CONTAINERD),
    uname: output(['x86_64\n', 'aarch64\n']),
    'nvidia-ctk': output(['NVIDIA Container Toolkit CLI version 1.17.0\ncommit: abc\n']),
    'dpkg-query': output(['6.2+b77']),
  }),
}) as fc.Arbitrary<FakeHostContent>;

const PROBES: Array<{ probe: Probe; schema: TSchema }> = [
  { probe: osProbe, schema: OsFacts },
  { probe: memoryProbe, schema: MemoryFacts },
  { probe: cpuProbe, schema: CpuFacts },
  { probe: gpuProbeWith(1000), schema: Type.Union([GpuFacts, Type.Null()]) },
  { probe: jetsonProbe, schema: Type.Union([JetsonFacts, Type.Null()]) },
  { probe: containerdProbe, schema: Type.Union([ContainerdFacts, Type.Null()]) },
  { probe: hostnameProbe, schema: Type.Union([Type.String({ maxLength: 256 }), Type.Null()]) },
  { probe: apiServerEncryptionProbe, schema: Type.Union([ApiServerEncryptionFacts, Type.Null()]) },
];
const ajv = new Ajv({ strict: false });
const options = { registries: null, registryTimeoutMs: 1000 };

/** Every string leaf of a facts value. */
function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (v && typeof v === 'object') return Object.values(v).flatMap(strings);
  return [];
}

async function runProbe(
  probe: Probe,
  host: HostContext,
): Promise<{ value?: unknown; failure?: ProbeFailure }> {
  try {
    return { value: await probe.run(host, options, new AbortController().signal) };
  } catch (e) {
    if (e instanceof ProbeFailure) return { failure: e };
    throw new Error(`${probe.name} threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
}

describe('probes on a host whose files and commands say anything', () => {
  it('return facts or a typed ProbeFailure; every reported string comes from the host', async () => {
    await fc.assert(
      fc.asyncProperty(hostContent, async (content) => {
        const host = fakeHost(content);
        const everything = [
          ...Object.values(content.files),
          ...Object.values(content.commands).map((c) => (typeof c === 'string' ? c : c.stdout + c.stderr)),
        ].join('\n');
        // Shell-style quoting (os-release) joins "a"b into ab: compare against the text without quotes.
        const unquoted = everything.replace(/["'\\]/g, '');
        for (const { probe } of PROBES) {
          const { value } = await runProbe(probe, host);
          for (const s of strings(value)) {
            // Fixed words the probes add themselves (binary names, normalised arch, table lookups).
            if (/^(nvidia-ctk|nvidia-container-runtime|arm64|\/etc\/kubernetes\/enc\.yaml)$/.test(s))
              continue;
            if (probe.name === 'jetson' && /^\d+(\.\d+)*$/.test(s)) continue; // JetPack from the table
            if (probe.name === 'os' && s === '5.15.0-100-generic') continue;
            // Why encryption at rest is unknown: a message of the probe's own, not a fact read from the host.
            if (
              probe.name === 'apiServerEncryption' &&
              value &&
              s === (value as { unknownReason?: string }).unknownReason
            )
              continue;
            expect(unquoted).toContain(s.replace(/["'\\]/g, ''));
          }
        }
      }),
      { numRuns: 200, seed: SEED },
    );
  });

  it('never produce facts the aggregator would reject (schema limits), so one odd file cannot lose a whole report', async () => {
    const violations = new Map<string, string>();
    await fc.assert(
      fc.asyncProperty(hostContent, async (content) => {
        const host = fakeHost(content);
        for (const { probe, schema } of PROBES) {
          const { value } = await runProbe(probe, host);
          if (value === undefined) continue;
          const validate = ajv.compile(schema);
          if (!validate(value) && !violations.has(probe.name)) {
            const e = validate.errors?.[0];
            violations.set(probe.name, `${e?.instancePath} ${e?.message}`);
          }
        }
      }),
      { numRuns: 200, seed: SEED },
    );
    // resolv.conf is parsed by the dns probe, which also does a DNS lookup: its parser is checked alone.
    const longServer = parseResolvConf(`nameserver ${'1'.repeat(200)}\n`);
    const dns = { nameservers: longServer, hostnameResolves: null };
    if (!ajv.compile(DnsFacts)(dns)) violations.set('dns', 'nameserver longer than 128 characters');
    expect(Object.fromEntries(violations)).toEqual({});
  });
});
