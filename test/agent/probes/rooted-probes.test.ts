// Probes that name host paths themselves (not only through readFile) resolve them under the host root, and
// the host-name rule shared by the hostname and dns probes. Hosts are temp copies of fixture hosts.
import { chmod, cp, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHostContext, type HostContext } from '../../../agent/host.js';
import { dnsProbe } from '../../../agent/probes/dns.js';
import { gpuProbe } from '../../../agent/probes/gpu.js';
import { hostnameProbe, readHostName } from '../../../agent/probes/hostname.js';
import { jetsonProbe } from '../../../agent/probes/jetson.js';
import { memoryProbe } from '../../../agent/probes/memory.js';
import { realHostPath } from '../../../agent/probes/support.js';
import { fixtureHostPath, realFixturePath } from '../../helpers/fixture-host.js';

const OPTIONS = { registries: null, registryTimeoutMs: 1000 };
const temps: string[] = [];
afterAll(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

async function copyHost(name: string): Promise<string> {
  const base = await mkdtemp(path.join(tmpdir(), 'osmo-rooted-'));
  temps.push(base);
  const root = path.join(base, name);
  await cp(fixtureHostPath(name), root, { recursive: true });
  return root;
}
const local = (root: string) => createHostContext({ root, execMode: 'local', path: '' });
const signal = () => new AbortController().signal;

async function put(root: string, file: string, text: string, mode = 0o644): Promise<void> {
  await mkdir(path.dirname(path.join(root, file)), { recursive: true });
  await writeFile(path.join(root, file), text);
  await chmod(path.join(root, file), mode);
}

/** A host at root `/` whose files are in memory (this machine's own are never read). */
function rootHost(files: Record<string, string>): HostContext {
  const enoent = (p: string) => Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
  return {
    root: '/',
    execMode: 'local',
    hostPath: (p) => p,
    async readFile(p) {
      const text = files[p];
      if (text === undefined) throw enoent(p);
      return text;
    },
    async exists(p) {
      return p in files;
    },
    async statfs() {
      return { capacityBytes: 1, freeBytes: 1 };
    },
    async which() {
      return null;
    },
    async exec(command) {
      throw enoent(command);
    },
  };
}

describe('host name: proc/sys/kernel/hostname vs etc/hostname', () => {
  it('under a host root, etc/hostname wins when they differ (proc shows the reader’s UTS namespace)', async () => {
    const root = await copyHost('registry-client');
    await put(root, 'etc/hostname', 'node-a\n');
    await put(root, 'proc/sys/kernel/hostname', 'agent-pod-x7k2p\n');
    expect(await hostnameProbe.run(local(root), OPTIONS, signal())).toBe('node-a');
    // The dns probe asks about the same name: the fake getent knows node-a from etc/hosts only.
    await put(root, 'etc/hosts', '10.0.0.10 node-a\n');
    expect(await dnsProbe.run(local(root), OPTIONS, signal())).toMatchObject({ hostnameResolves: true });
  });

  it('under a host root, proc fills in when etc/hostname is missing or empty', async () => {
    const root = await copyHost('registry-client');
    await put(root, 'etc/hostname', '\n');
    await put(root, 'proc/sys/kernel/hostname', 'node-b\n');
    expect(await readHostName(local(root))).toBe('node-b');
  });

  it('on host root /, the kernel’s name wins (etc/hostname may be stale)', async () => {
    const host = rootHost({ '/proc/sys/kernel/hostname': 'node-new\n', '/etc/hostname': 'node-old\n' });
    expect(await readHostName(host)).toBe('node-new');
    expect(await readHostName(rootHost({ '/etc/hostname': 'node-old\n' }))).toBe('node-old');
    expect(await readHostName(rootHost({}))).toBeNull();
  });

  it('an invalid name is a parse failure for hostname, and unknown (null) for dns', async () => {
    const root = await copyHost('registry-client');
    await put(root, 'etc/hostname', 'not a name\n');
    await expect(hostnameProbe.run(local(root), OPTIONS, signal())).rejects.toMatchObject({ kind: 'parse' });
    expect(await dnsProbe.run(local(root), OPTIONS, signal())).toMatchObject({ hostnameResolves: null });
  });
});

describe('memory', () => {
  it('an unreadable meminfo is a read failure naming the file and the error code', async () => {
    const root = await copyHost('bare');
    await rm(path.join(root, 'proc/meminfo'));
    await mkdir(path.join(root, 'proc/meminfo'));
    await expect(memoryProbe.run(local(root), OPTIONS, signal())).rejects.toMatchObject({
      kind: 'read',
      message: 'cannot read /proc/meminfo: EISDIR',
    });
    await rm(path.join(root, 'proc/meminfo'), { recursive: true });
    await expect(memoryProbe.run(local(root), OPTIONS, signal())).rejects.toMatchObject({
      kind: 'read',
      message: 'cannot read /proc/meminfo: ENOENT',
    });
  });
});

describe('paths handed to commands resolve under the host root', () => {
  it('GPU Operator driver root behind an absolute symlink', async () => {
    const root = await copyHost('gpu-operator');
    await mkdir(path.join(root, 'opt'));
    await rename(path.join(root, 'run/nvidia/driver'), path.join(root, 'opt/driver-root'));
    // Followed on this machine, /opt/driver-root does not exist: the GPU would go unseen.
    await symlink('/opt/driver-root', path.join(root, 'run/nvidia/driver'));
    const xml = realFixturePath('nvidia-smi/nvidia-smi-q-x_RTX3060_570.124.04_cuda12.8.xml');
    await put(root, 'opt/driver-root/usr/bin/nvidia-smi', `#!/bin/sh\ncat '${xml}'\n`, 0o755);
    const gpu = await gpuProbe.run(local(root), OPTIONS, signal());
    expect(gpu).toMatchObject({ driverVersion: '570.124.04', cudaVersion: '12.8' });
  });

  it("dpkg-query's --admindir behind an absolute symlink", async () => {
    const root = await copyHost('jetson-jp62');
    // A dpkg-query that reads the package database it is pointed at, as the real one does.
    await put(
      root,
      'usr/bin/dpkg-query',
      [
        '#!/bin/sh',
        'for a in "$@"; do case "$a" in --admindir=*) db=$(echo "$a" | cut -d= -f2-) ;; esac; done',
        '[ -f "$db/status" ] || { echo "dpkg-query: cannot open $db/status" >&2; exit 2; }',
        'sed -n "s/^Version: //p" "$db/status"',
        '',
      ].join('\n'),
      0o755,
    );
    await put(
      root,
      'data/dpkg/status',
      'Package: nvidia-jetpack\nStatus: install ok installed\nVersion: 6.2+b77\n',
    );
    await symlink('/data/dpkg', path.join(root, 'var/lib/dpkg'));
    const jetson = await jetsonProbe.run(local(root), OPTIONS, signal());
    expect(jetson).toMatchObject({ l4tVersion: '36.4.3', jetpackPackageVersion: '6.2+b77' });
  });
});

describe('a host path that cannot be resolved (symlink loop)', () => {
  it("is a typed 'read' failure naming the path, not an internal error", async () => {
    const root = await copyHost('jetson-jp62');
    await mkdir(path.join(root, 'var/lib'), { recursive: true });
    await symlink('dpkg', path.join(root, 'var/lib/dpkg')); // dpkg -> dpkg: ELOOP
    // jetson: dpkg-query --admindir=<the host's /var/lib/dpkg resolved under the root>
    await expect(jetsonProbe.run(local(root), OPTIONS, signal())).rejects.toMatchObject({
      name: 'ProbeFailure',
      kind: 'read',
      message: 'cannot resolve /var/lib/dpkg under the host root: ELOOP',
    });
    // The same helper gives nvidia-smi's GPU-operator driver root to the gpu probe.
    await expect(realHostPath(local(root), '/var/lib/dpkg/status')).rejects.toMatchObject({
      kind: 'read',
      message: 'cannot resolve /var/lib/dpkg/status under the host root: ELOOP',
    });
  });
});
