// Host symlinks resolve under the host root: absolute targets restart at the root, `..` stops at it, loops
// end in ELOOP. Without this the kernel follows absolute links through THIS machine's `/`.
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, statfs, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHostContext, MAX_SYMLINK_HOPS, resolveInRoot } from '../../agent/host.js';
import { fixtureHostPath } from '../helpers/fixture-host.js';

const root = fixtureHostPath('symlinks');
const local = () => createHostContext({ root, execMode: 'local', path: '' });

describe('resolveInRoot on the symlinks fixture host', () => {
  it('follows a chain of absolute links under the root', async () => {
    const host = local();
    expect(await host.resolveInRoot('/usr/local/cuda/version.json')).toBe(
      path.join(root, 'usr/local/cuda-12.6/version.json'),
    );
    expect(await host.readFile('/usr/local/cuda/version.json')).toContain('"version": "12.6.68"');
    expect(await host.readFile('/etc/resolv.conf')).toBe('nameserver 127.0.0.53\noptions edns0 trust-ad\n');
    expect(await host.exists('/usr/local/cuda')).toBe(true);
    expect(await host.exists('/usr/local/cuda/bin/nvcc')).toBe(false);
  });

  it('a link climbing with `..` past the root stays at the root', async () => {
    const host = local();
    // This machine's /etc/hostname says something else: reading it would be the bug.
    expect(await host.readFile('/usr/share/escape')).toBe('symlinks-fixture\n');
    expect(await host.readFile('/etc/escape-absolute')).toBe('symlinks-fixture\n');
    expect(await host.readFile('../../../usr/share/escape')).toBe('symlinks-fixture\n');
    expect(await host.resolveInRoot('/usr/share/escape')).toBe(path.join(root, 'etc/hostname'));
  });

  it('a loop is ELOOP, not a hang; exists() says false', async () => {
    const host = local();
    await expect(host.readFile('/loop/a')).rejects.toMatchObject({ code: 'ELOOP' });
    await expect(host.statfs('/loop/b')).rejects.toMatchObject({ code: 'ELOOP' });
    expect(await host.exists('/loop/a')).toBe(false);
  });

  it('statfs follows a link to another disk under the root', async () => {
    const s = await local().statfs('/var/lib/containerd');
    const direct = await statfs(path.join(root, 'mnt/disk2/containerd'));
    expect(s.capacityBytes).toBe(direct.bsize * direct.blocks);
    expect(s.capacityBytes).toBeGreaterThan(0);
  });

  it('missing files keep their own error codes', async () => {
    const host = local();
    await expect(host.readFile('/nope/file')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(host.readFile('/etc/hostname/file')).rejects.toMatchObject({ code: 'ENOTDIR' });
    await expect(host.readFile('/var/lib/containerd/missing')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('which and exec find a binary linked into /opt', async () => {
    const host = local();
    const real = path.join(root, 'opt/nvidia/bin/nvidia-smi');
    expect(await host.which('nvidia-smi')).toBe(real);
    expect(await host.which('/usr/local/bin/nvidia-smi')).toBe(real);
    expect(await host.exec('nvidia-smi', ['-L'], { timeoutMs: 5000 })).toEqual({
      stdout: 'fake nvidia-smi -L\n',
      stderr: '',
      code: 0,
    });
    // chroot runs the host's path and lets the host's kernel follow the link itself.
    expect(await createHostContext({ root, execMode: 'chroot' }).which('nvidia-smi')).toBe(
      '/usr/local/bin/nvidia-smi',
    );
  });

  it('root "/" uses plain paths', async () => {
    expect(await resolveInRoot('/', 'etc/../etc/./hostname')).toBe('/etc/hostname');
    expect(await createHostContext({ root: '/', execMode: 'local' }).readFile('/etc/hostname')).toBe(
      readFileSync('/etc/hostname', 'utf8'),
    );
  });
});

describe('resolveInRoot limits and argv[0]', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'osmo-links-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it(`follows ${MAX_SYMLINK_HOPS} links and stops at one more`, async () => {
    await writeFile(path.join(tmp, 'end'), 'reached\n');
    // l0 -> /l1 -> ... -> /lN -> /end: N+1 links.
    const chain = async (name: string, links: number) => {
      for (let i = 0; i < links; i++) {
        const target = i === links - 1 ? '/end' : `/${name}${i + 1}`;
        await symlink(target, path.join(tmp, `${name}${i}`));
      }
    };
    await chain('ok', MAX_SYMLINK_HOPS);
    await chain('long', MAX_SYMLINK_HOPS + 1);
    const host = createHostContext({ root: tmp, execMode: 'local', path: '' });
    expect(await host.readFile('/ok0')).toBe('reached\n');
    await expect(host.readFile('/long0')).rejects.toMatchObject({ code: 'ELOOP' });
  });

  it('runs a linked binary with argv[0] as it was named (multi-call binaries dispatch on it)', async () => {
    // A real GNU binary names itself by argv[0] in its error messages.
    await mkdir(path.join(tmp, 'opt/tools'), { recursive: true });
    await mkdir(path.join(tmp, 'usr/bin'), { recursive: true });
    await copyFile('/usr/bin/ls', path.join(tmp, 'opt/tools/ls'));
    await symlink('/opt/tools/ls', path.join(tmp, 'usr/bin/lister'));
    const host = createHostContext({ root: tmp, execMode: 'local', path: '' });
    const r = await host.exec('lister', ['--no-such-option'], { timeoutMs: 5000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${path.join(tmp, 'usr/bin/lister')}:`);
  });
});
