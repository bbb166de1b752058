// Host processes: a located command that cannot start is a failure (not "not installed"), no host command
// outlives the agent, and a command that survived its kill is not started a second time.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHostContext, isNotFound, killAllHostProcesses } from '../../agent/host.js';
import { ProbeFailure } from '../../agent/probe-failure.js';
import { execOptional } from '../../agent/probes/support.js';
import { fixtureHostPath } from '../helpers/fixture-host.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
let tmp: string;
const pidsToReap: number[] = [];

async function script(file: string, body: string, shebang = '#!/bin/sh', mode = 0o755) {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${shebang}\n${body}\n`);
  await chmod(file, mode);
}

/** Running (a zombie counts as gone: it no longer runs anything). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls (bounded) until `done()`; real processes, so no fake timers. */
async function until(done: () => boolean | Promise<boolean>, what: string, tries = 250): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await done()) return;
    await tick(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'osmo-hostproc-'));
});

afterAll(async () => {
  // Leaders of the wedged command and escaped children even when a test failed half-way.
  for (const name of [
    'wedged/leader-q',
    'wedged/leader-v',
    'escapes/escaped1',
    'escapes-agent/escaped1',
    'escapes-agent/escaped2',
  ]) {
    const file = path.join(tmp, name);
    if (existsSync(file)) pidsToReap.push(Number(readFileSync(file, 'utf8')));
  }
  // Only our own leftover sleeps: never a pid 0/1 or a recycled pid.
  for (const pid of pidsToReap) {
    if (!(Number.isInteger(pid) && pid > 1 && alive(pid))) continue;
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep\0')) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  await rm(tmp, { recursive: true, force: true });
});

describe('a found command that cannot start', () => {
  it('missing interpreter (ENOENT at spawn) → exec-failed naming the path, not "not found"', async () => {
    const root = fixtureHostPath('symlinks');
    const host = createHostContext({ root, execMode: 'local', path: '' });
    const file = path.join(root, 'usr/sbin/needs-loader');
    expect(await host.which('needs-loader')).toBe(file);
    const err = await host.exec('needs-loader', ['--version'], { timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProbeFailure);
    expect(isNotFound(err)).toBe(false);
    expect(err).toMatchObject({
      kind: 'exec-failed',
      message:
        `needs-loader was found at ${file} but could not be started (ENOENT); ` +
        "run with --exec-mode chroot to use the host's own libraries",
    });
    // So a probe cannot mistake it for an absent command (no GPU/containerd → a false pass).
    await expect(execOptional(host, 'needs-loader', [], 5000)).rejects.toMatchObject({ kind: 'exec-failed' });
  });

  it('interpreter that is not executable (EACCES at spawn) → exec-failed', async () => {
    const root = path.join(tmp, 'eacces');
    await script(path.join(root, 'lib/interp'), 'exit 0', '#!/bin/sh', 0o644);
    await script(path.join(root, 'usr/bin/tool'), 'echo never', `#!${path.join(root, 'lib/interp')}`);
    const host = createHostContext({ root, execMode: 'local', path: '' });
    await expect(host.exec('tool', [], { timeoutMs: 5000 })).rejects.toMatchObject({
      kind: 'exec-failed',
      message: expect.stringContaining('could not be started (EACCES)'),
    });
  });

  it('nothing anywhere in the lookup is still "not found"', async () => {
    const host = createHostContext({ root: fixtureHostPath('symlinks'), execMode: 'local', path: '' });
    const err = await host.exec('no-such-tool', [], { timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(isNotFound(err)).toBe(true);
    expect(await execOptional(host, 'no-such-tool', [], 5000)).toBeNull();
  });
});

describe('a command that survived its kill', () => {
  it('is not started again while it still runs; once it exits it can run again', async () => {
    const root = path.join(tmp, 'wedged');
    const starts = path.join(root, 'starts');
    const release = path.join(root, 'release');
    await script(
      path.join(root, 'usr/bin/wedged'),
      [
        `echo start >> '${starts}'`,
        `if [ -e '${release}' ]; then echo released; exit 0; fi`,
        `echo $$ > '${root}/leader'"$1"`,
        'exec sleep 30',
      ].join('\n'),
    );
    // Stands for a process SIGKILL cannot end (D state, e.g. nvidia-smi after an Xid error): the group
    // kill (and the kill of what carries the command's marker) is swallowed, so the leader's 'exit' is not
    // seen until the test ends it.
    const realKill = process.kill.bind(process);
    const kill = vi
      .spyOn(process, 'kill')
      .mockImplementation((pid: number, signal?: string | number) =>
        signal === 'SIGKILL' ? true : realKill(pid, signal),
      );
    try {
      const host = createHostContext({ root, execMode: 'local', path: '' });
      await expect(host.exec('wedged', ['-q'], { timeoutMs: 300 })).rejects.toMatchObject({
        kind: 'timeout',
        message: expect.stringContaining('did not answer within 0.3s'),
      });
      const stuck = Number(readFileSync(`${root}/leader-q`, 'utf8'));
      pidsToReap.push(stuck);

      const again = await host.exec('wedged', ['-q'], { timeoutMs: 300 }).catch((e: unknown) => e);
      expect(again).toBeInstanceOf(ProbeFailure);
      expect(again).toMatchObject({
        kind: 'timeout',
        message: expect.stringMatching(
          /^wedged from a previous run is still running \(pid \d+, stuck for \d+s\); not starting another$/,
        ),
      });
      expect(await readFile(starts, 'utf8')).toBe('start\n'); // no second copy was started
      // Other arguments are another command.
      await expect(host.exec('wedged', ['-v'], { timeoutMs: 300 })).rejects.toMatchObject({
        message: expect.stringContaining('did not answer'),
      });
      pidsToReap.push(Number(readFileSync(`${root}/leader-v`, 'utf8')));

      // The stuck process finally ends: its 'exit' clears the guard.
      await writeFile(release, '');
      realKill(stuck, 'SIGKILL');
      let result: unknown;
      await until(async () => {
        result = await host.exec('wedged', ['-q'], { timeoutMs: 5000 }).catch((e: unknown) => e);
        return !(result instanceof ProbeFailure && result.message.includes('still running'));
      }, "the stuck process's exit");
      expect(result).toEqual({ stdout: 'released\n', stderr: '', code: 0 });
    } finally {
      kill.mockRestore();
    }
  });

  it('concurrent runs of the same command that nobody gave up on are not refused', async () => {
    const root = path.join(tmp, 'concurrent');
    await script(path.join(root, 'usr/bin/quick'), 'sleep 0.1; echo ok');
    const host = createHostContext({ root, execMode: 'local', path: '' });
    const both = await Promise.all([
      host.exec('quick', [], { timeoutMs: 5000 }),
      host.exec('quick', [], { timeoutMs: 5000 }),
    ]);
    expect(both.map((r) => r.stdout)).toEqual(['ok\n', 'ok\n']);
  });
});

describe('a command that exits while something it started holds its output', () => {
  // A fake nvidia-smi that leaves a child in its own session (out of reach of the group kill) holding
  // stdout: the command answered and exited, so it must count as finished.
  async function escapingHost(name: string) {
    const root = path.join(tmp, name);
    await script(
      path.join(root, 'usr/bin/nvidia-smi'),
      [`setsid sh -c 'echo $$ > "$0"; exec sleep 20' '${root}/escaped1' &`, 'echo 535.104.05'].join('\n'),
    );
    return root;
  }

  it('is finished at its exit, with its output, well before its timeout', async () => {
    const root = await escapingHost('escapes');
    const host = createHostContext({ root, execMode: 'local', path: '' });
    const started = Date.now();
    const result = await host.exec('nvidia-smi', [], { timeoutMs: 10_000 });
    expect(result).toEqual({ stdout: '535.104.05\n', stderr: '', code: 0 });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('does not keep the process alive (neither after an exit nor after a timeout)', async () => {
    const root = await escapingHost('escapes-agent');
    await script(
      path.join(root, 'usr/bin/hangs'),
      [`setsid sh -c 'echo $$ > "$0"; exec sleep 20' '${root}/escaped2' &`, 'exec sleep 20'].join('\n'),
    );
    // An agent-like process that does not call process.exit: it ends only when nothing holds its loop.
    const child = [
      `const { createHostContext } = await import(${JSON.stringify(path.join(REPO, 'agent/host.ts'))});`,
      `const host = createHostContext({ root: ${JSON.stringify(root)}, execMode: 'local', path: '' });`,
      `const r = await host.exec('nvidia-smi', [], { timeoutMs: 10000 });`,
      `const e = await host.exec('hangs', [], { timeoutMs: 300 }).catch((e) => e.kind);`,
      'console.log(r.stdout.trim(), e);',
    ].join('\n');
    const started = Date.now();
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', child],
        { cwd: REPO, timeout: 15_000 },
        (err, out) => (err ? reject(err) : resolve(out)),
      );
    });
    expect(stdout).toBe('535.104.05 timeout\n');
    expect(Date.now() - started).toBeLessThan(10_000); // the escaped sleeps last 20s
  });
});

describe('a command that starts children in a new session (setsid)', () => {
  it('leaves no process behind, cycle after cycle (exit and timeout alike)', async () => {
    const root = path.join(tmp, 'setsid-cycles');
    // Each run leaves a sleeper in its own session (its own group: the group kill misses it) and records it.
    await script(
      path.join(root, 'usr/bin/nvidia-smi'),
      [`setsid sleep 30 </dev/null >/dev/null 2>&1 & echo $! >> '${root}/sleepers'`, 'echo 535.104.05'].join(
        '\n',
      ),
    );
    await script(
      path.join(root, 'usr/bin/hangs'),
      [`setsid sleep 30 </dev/null >/dev/null 2>&1 & echo $! >> '${root}/sleepers'`, 'exec sleep 30'].join(
        '\n',
      ),
    );
    const host = createHostContext({ root, execMode: 'local', path: '' });
    for (let cycle = 0; cycle < 3; cycle++) {
      expect((await host.exec('nvidia-smi', [], { timeoutMs: 10_000 })).stdout).toBe('535.104.05\n');
      await expect(host.exec('hangs', [], { timeoutMs: 200 })).rejects.toMatchObject({ kind: 'timeout' });
    }
    const sleepers = (await readFile(path.join(root, 'sleepers'), 'utf8')).trim().split('\n').map(Number);
    pidsToReap.push(...sleepers);
    expect(sleepers.length).toBe(6);
    await until(() => sleepers.every((pid) => !alive(pid)), 'every setsid sleeper to be gone', 100);
  });
});

describe('no host command outlives the agent', () => {
  it('killAllHostProcesses() SIGKILLs every live process group', async () => {
    const root = path.join(tmp, 'killall');
    await script(path.join(root, 'usr/bin/sleeper'), 'sleep 30 & wait');
    const host = createHostContext({ root, execMode: 'local', path: '' });
    const running = host.exec('sleeper', [], { timeoutMs: 10_000 });
    await tick(100); // let it start
    expect(killAllHostProcesses()).toBeGreaterThanOrEqual(1);
    expect((await running).code).toBeNull(); // killed by a signal, well before its timeout
  });

  it('a process that exits leaves no host command behind', async () => {
    const root = path.join(tmp, 'exit');
    const pidFile = path.join(root, 'pid');
    await script(path.join(root, 'usr/bin/sleeper'), `echo $$ > '${pidFile}'; exec sleep 30`);
    // A separate agent-like process: starts a long host command and exits without waiting for it.
    const child = [
      `const { createHostContext } = await import(${JSON.stringify(path.join(REPO, 'agent/host.ts'))});`,
      `const host = createHostContext({ root: ${JSON.stringify(root)}, execMode: 'local', path: '' });`,
      `host.exec('sleeper', [], { timeoutMs: 60000 }).catch(() => {});`,
      `const { existsSync } = await import('node:fs');`,
      `for (let i = 0; i < 500 && !existsSync(${JSON.stringify(pidFile)}); i++)`,
      '  await new Promise((r) => setTimeout(r, 10));',
      'process.exit(0);',
    ].join('\n');
    await new Promise<void>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', child],
        { cwd: REPO, timeout: 15_000 },
        (err) => (err ? reject(err) : resolve()),
      );
    });
    const pid = Number(await readFile(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    pidsToReap.push(pid);
    await until(() => !alive(pid), `the sleep (pid ${pid}) to be gone`, 100);
  });
});
