// Broken hosts: every failure is a typed probe error with no fabricated value, and never hides the
// other facts. Hosts are copies of fixture hosts in a temp directory, altered per case.
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collectFacts } from '../../../agent/collect.js';
import { createHostContext } from '../../../agent/host.js';
import {
  gpuProbe,
  gpuProbeWith,
  NVIDIA_SMI_TIMEOUT_MS,
  NVIDIA_SMI_XML_MAX_BYTES,
  TOOLKIT_BUDGET_MS,
} from '../../../agent/probes/gpu.js';
import { fixtureHostContext, fixtureHostPath } from '../../helpers/fixture-host.js';

const OPTIONS = { registries: null, registryTimeoutMs: 1000 };
const temps: string[] = [];
afterAll(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

/** A writable copy of a fixture host; scripts that cat ../real files get those files copied too. */
async function copyHost(name: string): Promise<string> {
  const base = await mkdtemp(path.join(tmpdir(), 'osmo-host-'));
  temps.push(base);
  // Same relative layout as test/fixtures, so the fakes' "$(dirname "$0")/../../../../real" paths hold.
  const root = path.join(base, 'hosts', name);
  await cp(fixtureHostPath(name), root, { recursive: true });
  await cp(path.join(fixtureHostPath(name), '../../real'), path.join(base, 'real'), { recursive: true });
  return root;
}

const host = (root: string) => createHostContext({ root, execMode: 'local', path: '' });

/** Pids of live processes whose command line contains `needle`. */
async function processesMatching(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      const state = (await readFile(`/proc/${entry}/stat`, 'utf8')).split(') ')[1]?.[0];
      if (cmdline.includes(needle) && state !== 'Z') pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

describe('probe failures', () => {
  it('a hanging nvidia-smi is killed at the gpu timeout; the other facts arrive', async () => {
    const started = performance.now();
    const { facts, probeErrors } = await collectFacts(fixtureHostContext('gpu-nvidia-smi-hangs'), {
      ...OPTIONS,
      timeoutsMs: { gpu: 1000 },
    });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(3000);
    expect(probeErrors).toHaveLength(1);
    expect(probeErrors[0]).toMatchObject({ probe: 'gpu', kind: 'timeout' });
    expect(probeErrors[0]?.message).toMatch(/within 1s/);
    expect(facts.gpu).toBeNull();
    expect(facts.cpu?.logicalCores).toBe(64);
    expect(facts.containerd?.version).toBe('1.7.27');
    expect(facts.os?.id).toBe('ubuntu');
    // The fake forks a child carrying this marker; the whole process group must be gone.
    const script = path.join(fixtureHostPath('gpu-nvidia-smi-hangs'), 'usr/bin/nvidia-smi');
    let alive = [
      ...(await processesMatching('osmo-fixture-nvidia-smi-hang')),
      ...(await processesMatching(script)),
    ];
    for (let i = 0; i < 20 && alive.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 25)); // SIGKILL delivery is asynchronous; bounded wait
      alive = [
        ...(await processesMatching('osmo-fixture-nvidia-smi-hang')),
        ...(await processesMatching(script)),
      ];
    }
    expect(alive).toEqual([]);
  });

  it('an nvidia-smi -q -x longer than its cap fails the probe before any parse', async () => {
    const root = await copyHost('ubuntu2204-gpu-pass');
    // Well-formed XML just past the cap: only the size can make the probe fail.
    const filler = 'x'.repeat(NVIDIA_SMI_XML_MAX_BYTES);
    const xml = path.join(root, 'big.xml');
    await writeFile(xml, `<?xml version="1.0" ?>\n<nvidia_smi_log><note>${filler}</note></nvidia_smi_log>\n`);
    await writeFile(path.join(root, 'usr/bin/nvidia-smi'), `#!/bin/sh\ncat '${xml}'\n`);
    const err = await gpuProbe
      .run(host(root), OPTIONS, new AbortController().signal)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'exec-failed' });
    expect((err as Error).message).toMatch(`printed more than ${NVIDIA_SMI_XML_MAX_BYTES} bytes`);
  });

  it('exec timeout inside a probe says which command and kills it', async () => {
    const ctx = fixtureHostContext('gpu-nvidia-smi-hangs');
    const err = await ctx.exec('nvidia-smi', ['-q', '-x'], { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'timeout', message: 'nvidia-smi did not answer within 0.3s; killed' });
  });

  it('a hanging nvidia-ctk costs only the toolkit fact: GPU facts arrive, the hang is killed', async () => {
    const root = await copyHost('ubuntu2204-gpu-pass');
    // The shell's command line carries the script's path (unique to this copy): that is the marker.
    const marker = path.join(root, 'usr/bin/nvidia-ctk');
    await writeFile(marker, '#!/bin/sh\nsleep 600\n');
    const budgetMs = 400;
    const started = performance.now();
    const gpu = await gpuProbeWith(10_000, budgetMs).run(host(root), OPTIONS, new AbortController().signal);
    // Measured against the configured budget: the hang was waited for, and no longer than the budget
    // (generous margin for a loaded machine), far from nvidia-ctk's 600 s.
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(budgetMs - 50);
    expect(elapsed).toBeLessThan(budgetMs + 1500);
    // As shipped, the probe's own bound leaves room for nvidia-smi's timeout plus the whole toolkit budget.
    expect(gpuProbe.timeoutMs).toBeGreaterThan(NVIDIA_SMI_TIMEOUT_MS + TOOLKIT_BUDGET_MS);
    expect(gpu).toMatchObject({ driverVersion: '570.124.04', cudaVersion: '12.8', containerToolkit: null });
    expect(gpu?.devices).toHaveLength(1);
    let alive = await processesMatching(marker);
    for (let i = 0; i < 20 && alive.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 25)); // SIGKILL delivery is asynchronous; bounded wait
      alive = await processesMatching(marker);
    }
    expect(alive).toEqual([]);
  });

  it('truncated nvidia-smi XML → parse error, no GPU facts', async () => {
    const root = await copyHost('ubuntu2204-gpu-pass');
    const xmlPath = path.join(root, 'usr/share/truncated.xml');
    const full = await readFile(
      path.join(root, '../../real/nvidia-smi/nvidia-smi-q-x_RTX3060_570.124.04_cuda12.8.xml'),
      'utf8',
    );
    await cp(path.join(root, 'etc/hostname'), xmlPath); // create the directory
    await writeFile(xmlPath, full.slice(0, 3000));
    await writeFile(
      path.join(root, 'usr/bin/nvidia-smi'),
      '#!/bin/sh\ncat "$(dirname "$0")/../share/truncated.xml"\n',
    );
    const { facts, probeErrors } = await collectFacts(host(root), OPTIONS);
    expect(facts.gpu).toBeNull();
    expect(probeErrors).toHaveLength(1);
    expect(probeErrors[0]).toMatchObject({ probe: 'gpu', kind: 'parse' });
    expect(facts.cpu?.logicalCores).toBe(64);
  });

  it('nvidia-smi XML nested past the parser limit → parse error (not internal), no GPU facts', async () => {
    const root = await copyHost('ubuntu2204-gpu-pass');
    const xmlPath = path.join(root, 'usr/share/nested.xml');
    const full = await readFile(
      path.join(root, '../../real/nvidia-smi/nvidia-smi-q-x_RTX3060_570.124.04_cuda12.8.xml'),
      'utf8',
    );
    await cp(path.join(root, 'etc/hostname'), xmlPath); // create the directory
    await writeFile(
      xmlPath,
      full.replace('<timestamp>', `${'<x>'.repeat(200)}${'</x>'.repeat(200)}<timestamp>`),
    );
    await writeFile(
      path.join(root, 'usr/bin/nvidia-smi'),
      '#!/bin/sh\ncat "$(dirname "$0")/../share/nested.xml"\n',
    );
    const { facts, probeErrors } = await collectFacts(host(root), OPTIONS);
    expect(facts.gpu).toBeNull();
    expect(probeErrors).toEqual([expect.objectContaining({ probe: 'gpu', kind: 'parse' })]);
    expect(probeErrors[0]?.message).toMatch(/nested tags/i);
  });

  it('non-executable nvidia-smi → not-executable', async () => {
    const root = await copyHost('ubuntu2204-gpu-pass');
    await chmod(path.join(root, 'usr/bin/nvidia-smi'), 0o644);
    const { facts, probeErrors } = await collectFacts(host(root), OPTIONS);
    expect(facts.gpu).toBeNull();
    expect(probeErrors).toEqual([
      {
        probe: 'gpu',
        kind: 'not-executable',
        message: `${path.join(root, 'usr/bin/nvidia-smi')} is not executable`,
      },
    ]);
  });

  it('garbage nv_tegra_release → parse error, never a made-up L4T version', async () => {
    const root = await copyHost('jetson-jp62');
    await writeFile(path.join(root, 'etc/nv_tegra_release'), 'this is not a release file\n');
    const { facts, probeErrors } = await collectFacts(host(root), OPTIONS);
    expect(facts.jetson).toBeNull();
    expect(probeErrors).toHaveLength(1);
    expect(probeErrors[0]).toMatchObject({ probe: 'jetson', kind: 'parse' });
    expect(probeErrors[0]?.message).toContain('this is not a release file');
  });

  it('meminfo without MemTotal → parse error, memory null', async () => {
    const root = await copyHost('bare');
    await writeFile(path.join(root, 'proc/meminfo'), 'MemFree:        1234 kB\nMemAvailable:  2345 kB\n');
    const { facts, probeErrors } = await collectFacts(host(root), OPTIONS);
    expect(facts.memory).toBeNull();
    expect(probeErrors).toEqual([expect.objectContaining({ probe: 'memory', kind: 'parse' })]);
    expect(facts.os?.id).toBe('ubuntu');
  });

  it('unreadable EncryptionConfiguration → enabled null (not guessed)', async () => {
    const root = await copyHost('control-plane');
    await rm(path.join(root, 'etc/kubernetes/enc/encryption-config.yaml'));
    const { facts, probeErrors } = await collectFacts(host(root), OPTIONS);
    expect(probeErrors).toEqual([]);
    expect(facts.apiServerEncryption).toEqual({
      manifestFound: true,
      encryptionConfigPath: '/etc/kubernetes/enc/encryption-config.yaml',
      firstProvider: null,
      enabled: null,
      unknownReason: 'cannot read /etc/kubernetes/enc/encryption-config.yaml: ENOENT',
    });
  });

  it('every resources[] entry counts: events encrypted but secrets identity → enabled false', async () => {
    const root = await copyHost('control-plane');
    await writeFile(
      path.join(root, 'etc/kubernetes/enc/encryption-config.yaml'),
      [
        'apiVersion: apiserver.config.k8s.io/v1',
        'kind: EncryptionConfiguration',
        'resources:',
        '  - resources: [events]',
        '    providers:',
        '      - aescbc: {keys: [{name: k, secret: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=}]}',
        '  - resources: [secrets]',
        '    providers:',
        '      - identity: {}',
        '',
      ].join('\n'),
    );
    expect((await collectFacts(host(root), OPTIONS)).facts.apiServerEncryption).toMatchObject({
      firstProvider: 'aescbc',
      enabled: false,
      secrets: { provider: 'identity', matchedBy: 'secrets' },
      encrypted: [{ resource: 'events', provider: 'aescbc' }],
    });
  });

  it('the config path is read where the pod mounts it from: hostPath, not the in-container path', async () => {
    const root = await copyHost('control-plane');
    const manifest = path.join(root, 'etc/kubernetes/manifests/kube-apiserver.yaml');
    const text = await readFile(manifest, 'utf8');
    // The container sees /etc/kubernetes/enc; the host keeps the file in /srv/enc.
    await writeFile(manifest, text.replace('path: /etc/kubernetes/enc', 'path: /srv/enc'));
    expect((await collectFacts(host(root), OPTIONS)).facts.apiServerEncryption).toMatchObject({
      enabled: null,
      unknownReason: 'cannot read /srv/enc/encryption-config.yaml: ENOENT',
    });
    await mkdir(path.join(root, 'srv'), { recursive: true });
    await rename(path.join(root, 'etc/kubernetes/enc'), path.join(root, 'srv/enc'));
    expect((await collectFacts(host(root), OPTIONS)).facts.apiServerEncryption).toMatchObject({
      encryptionConfigPath: '/etc/kubernetes/enc/encryption-config.yaml',
      hostConfigPath: '/srv/enc/encryption-config.yaml',
      enabled: true,
    });
  });

  it('kube-apiserver without the flag → enabled false; identity first → enabled false', async () => {
    const root = await copyHost('control-plane');
    const manifest = path.join(root, 'etc/kubernetes/manifests/kube-apiserver.yaml');
    const config = path.join(root, 'etc/kubernetes/enc/encryption-config.yaml');
    await writeFile(
      config,
      'kind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n      - identity: {}\n',
    );
    expect((await collectFacts(host(root), OPTIONS)).facts.apiServerEncryption).toMatchObject({
      firstProvider: 'identity',
      enabled: false,
      secrets: { provider: 'identity', matchedBy: 'secrets' },
      encrypted: [],
    });
    const text = await readFile(manifest, 'utf8');
    await writeFile(manifest, text.replace(/.*--encryption-provider-config.*\n/, ''));
    expect((await collectFacts(host(root), OPTIONS)).facts.apiServerEncryption).toEqual({
      manifestFound: true,
      encryptionConfigPath: null,
      firstProvider: null,
      enabled: false,
    });
  });

  it('soc0/family "tegra" without nv_tegra_release → Jetson with unknown L4T', async () => {
    const root = await copyHost('jetson-jp62');
    await rm(path.join(root, 'etc/nv_tegra_release'));
    const { facts } = await collectFacts(host(root), OPTIONS);
    expect(facts.jetson).toMatchObject({ l4tVersion: null, board: null });
  });
});
