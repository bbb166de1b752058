import { execFileSync } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHostContext, HOST_BIN_DIRS, isNotFound } from '../../agent/host.js';
import { ProbeFailure } from '../../agent/probe-failure.js';
import { containerdProbe } from '../../agent/probes/containerd.js';
import { fixtureHostPath, realFixturePath } from '../helpers/fixture-host.js';

let root: string;
let pathDir: string;

async function script(file: string, body: string, mode = 0o755) {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  await chmod(file, mode);
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'osmo-hostctx-'));
  pathDir = path.join(root, '..', `${path.basename(root)}-path`);
  // The same command in every host directory, each saying where it lives.
  for (const dir of HOST_BIN_DIRS) await script(path.join(root, dir, 'where'), `echo ${dir}`);
  await script(path.join(pathDir, 'where'), 'echo PATH');
  await script(path.join(pathDir, 'only-on-path'), 'echo from-path');
  await script(path.join(root, 'usr/bin/fails'), 'echo "it broke" >&2; echo partial; exit 3');
  await script(path.join(root, 'usr/bin/noexec'), 'echo never', 0o644);
  await script(path.join(root, 'usr/bin/args'), 'printf "%s|" "$@"');
  await writeFile(path.join(root, 'hello.txt'), 'hello host\n');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(pathDir, { recursive: true, force: true });
});

const local = () => createHostContext({ root, execMode: 'local', path: pathDir });

describe('HostContext files', () => {
  it('reads under the root and cannot climb out of it', async () => {
    const host = local();
    expect(host.hostPath('/hello.txt')).toBe(path.join(root, 'hello.txt'));
    expect(host.hostPath('../../etc/passwd')).toBe(path.join(root, 'etc/passwd'));
    expect(await host.readFile('/hello.txt')).toBe('hello host\n');
    expect(await host.readFile('/hello.txt', 11)).toBe('hello host\n');
    // Longer than the bound: refused, never a cut text that would be parsed as if whole.
    await expect(host.readFile('/hello.txt', 5)).rejects.toMatchObject({
      kind: 'read',
      message: expect.stringContaining('larger than 5 bytes'),
    });
    expect(await host.exists('/hello.txt')).toBe(true);
    expect(await host.exists('/nope')).toBe(false);
    await expect(host.readFile('/nope')).rejects.toMatchObject({ code: 'ENOENT' });
  });
  it('root "/" maps host paths to themselves', () => {
    expect(createHostContext({ root: '/', execMode: 'local' }).hostPath('/etc/os-release')).toBe(
      '/etc/os-release',
    );
  });
  it('statfs gives capacity ≥ free > 0', async () => {
    const s = await local().statfs('/');
    expect(s.capacityBytes).toBeGreaterThan(0);
    expect(s.freeBytes).toBeLessThanOrEqual(s.capacityBytes);
  });
});

describe('HostContext exec, local mode', () => {
  it('looks commands up in the documented order under a root other than /, never on PATH', async () => {
    const dirs = [...HOST_BIN_DIRS];
    for (let i = 0; i < dirs.length; i++) {
      const r = await local().exec('where', [], { timeoutMs: 5000 });
      expect(r).toEqual({ stdout: `${dirs[i]}\n`, stderr: '', code: 0 });
      await rm(path.join(root, dirs[i]!, 'where')); // next lookup falls through to the next directory
    }
    // Only PATH still has `where` now: a host root other than / never borrows this machine's commands.
    expect(await local().which('where')).toBeNull();
    expect(
      isNotFound(
        await local()
          .exec('where', [], { timeoutMs: 5000 })
          .catch((e: unknown) => e),
      ),
    ).toBe(true);
  });
  it('a command only on PATH is not found under a root other than /', async () => {
    expect(await local().which('only-on-path')).toBeNull();
    const err = await local()
      .exec('only-on-path', [], { timeoutMs: 5000 })
      .catch((e: unknown) => e);
    expect(isNotFound(err)).toBe(true);
  });
  it('with root / it falls back to PATH for commands the root lacks', async () => {
    // A name no machine has in its system directories, so the answer cannot depend on what is installed.
    const name = `osmo-path-only-${process.pid}-${path.basename(root)}`;
    await script(path.join(pathDir, name), 'echo from-path');
    const here = createHostContext({ root: '/', execMode: 'local', path: pathDir });
    expect(await here.which(name)).toBe(path.join(pathDir, name));
    expect((await here.exec(name, [], { timeoutMs: 5000 })).stdout).toBe('from-path\n');
  });
  it('passes arguments untouched (no shell)', async () => {
    const dpkgFormat = '-f=$' + '{Version}';
    const r = await local().exec('args', [dpkgFormat, 'a b', '$(x)'], { timeoutMs: 5000 });
    expect(r.stdout).toBe(`${dpkgFormat}|a b|$(x)|`);
  });
  it('a non-zero exit is a result, not a rejection', async () => {
    expect(await local().exec('fails', [], { timeoutMs: 5000 })).toEqual({
      stdout: 'partial\n',
      stderr: 'it broke\n',
      code: 3,
    });
  });
  it('missing command → ENOENT (not found), which → null', async () => {
    const err = await local()
      .exec('definitely-not-here', [], { timeoutMs: 5000 })
      .catch((e: unknown) => e);
    expect(isNotFound(err)).toBe(true);
    expect(await local().which('definitely-not-here')).toBeNull();
  });
  it('a found but non-executable command → ProbeFailure(not-executable)', async () => {
    const err = await local()
      .exec('noexec', [], { timeoutMs: 5000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProbeFailure);
    expect(err).toMatchObject({ kind: 'not-executable' });
    expect(await local().which('noexec')).toBeNull();
  });
  it('an abort signal kills the command', async () => {
    await script(path.join(root, 'usr/bin/slow'), 'sleep 30');
    const controller = new AbortController();
    const running = local().exec('slow', [], { timeoutMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(running).rejects.toMatchObject({ kind: 'timeout' });
  });
  it('output beyond maxBuffer fails the call', async () => {
    await script(
      path.join(root, 'usr/bin/chatty'),
      'i=0; while [ $i -lt 2000 ]; do echo 0123456789; i=$((i+1)); done',
    );
    await expect(local().exec('chatty', [], { timeoutMs: 5000, maxBuffer: 1000 })).rejects.toMatchObject({
      kind: 'exec-failed',
    });
  });
});

describe("local mode on a fixture host: only the host's commands", () => {
  it("a host without containerd does not report a containerd found on this machine's PATH", async () => {
    // PATH holds a containerd printing a real version line; the `bare` host has none.
    const line = await readFile(
      realFixturePath('containerd/containerd--version_dockerpkg_containerd.io_1.7.27.txt'),
      'utf8',
    );
    await script(path.join(pathDir, 'containerd'), `cat <<'EOF'\n${line.trimEnd()}\nEOF`);
    const withPath = createHostContext({ root: fixtureHostPath('bare'), execMode: 'local', path: pathDir });
    expect(await withPath.which('containerd')).toBeNull();
    const ac = new AbortController();
    const options = { registries: null, registryTimeoutMs: 1000 };
    expect(await containerdProbe.run(withPath, options, ac.signal)).toBeNull();
  });
});

describe('HostContext exec, chroot mode', () => {
  it('finds commands inside the root and reports host paths', async () => {
    const host = createHostContext({ root, execMode: 'chroot' });
    await script(path.join(root, 'usr/bin/inside'), 'echo inside');
    expect(await host.which('inside')).toBe('/usr/bin/inside');
    expect(await host.which('only-on-path')).toBeNull(); // PATH of this machine is not consulted
  });

  it('runs `chroot ROOT /usr/bin/cmd args` (works when privileged, fails visibly otherwise)', async () => {
    // A minimal root holding a real dynamically linked uname and the loader + libc it needs.
    const croot = await mkdtemp(path.join(tmpdir(), 'osmo-chroot-'));
    try {
      // The loader and libraries uname needs, as ldd lists them ("libc.so.6 => /lib/... (0x..)" or "/lib64/ld-... (0x..)").
      const libs = [
        ...execFileSync('ldd', ['/usr/bin/uname'], { encoding: 'utf8' }).matchAll(/(\/\S+) \(0x/g),
      ].map((m) => m[1]!);
      for (const f of ['/usr/bin/uname', ...libs]) {
        await mkdir(path.join(croot, path.dirname(f)), { recursive: true });
        await cp(f, path.join(croot, f), { dereference: true });
      }
      await symlink('usr/bin', path.join(croot, 'bin')).catch(() => {});
      const host = createHostContext({ root: croot, execMode: 'chroot' });
      const r = await host.exec('uname', ['-m'], { timeoutMs: 5000 });
      if (process.getuid?.() === 0) {
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(execFileSync('uname', ['-m'], { encoding: 'utf8' }));
      } else {
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/chroot/);
      }
    } finally {
      await rm(croot, { recursive: true, force: true });
    }
  });
});
