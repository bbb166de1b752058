// Child processes for the benchmarks: spawn with Node 24, read /proc/<pid>/status, pick a free
// 127.0.0.1 port, wait for conditions with a bound, and kill every child when the bench exits.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The project's Node 24 (the machine's default node is older). */
export const NODE = path.join(ROOT, 'node_modules/.bin/node');
export const CLI = path.join(ROOT, 'dist/cli/main.js');
export const TSX_IMPORT = ['--import', 'tsx'];

const children = new Set<ChildProcess>();

function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

export interface Child {
  proc: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Called with each complete stderr line. */
  onStderrLine(fn: (line: string) => void): void;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

export function spawnChild(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; keepOutput?: boolean; nodeFlags?: string[]; cpus?: string } = {},
): Child {
  // `cpus`: pinned with taskset (it execs node: same pid), so servers and load generator get a core each.
  const nodeArgs = [...(options.nodeFlags ?? []), ...args];
  const [file, argv] = options.cpus ? ['taskset', ['-c', options.cpus, NODE, ...nodeArgs]] : [NODE, nodeArgs];
  const proc = spawn(file, argv, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  children.add(proc);
  const keep = options.keepOutput ?? true;
  let out = '';
  let err = '';
  let partial = '';
  const lineListeners: Array<(line: string) => void> = [];
  proc.stdout?.on('data', (d: Buffer) => {
    // Bounded: a chatty child must not grow the bench's memory.
    if (keep && out.length < 4_000_000) out += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    const text = d.toString();
    if (keep && err.length < 4_000_000) err += text;
    partial += text;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) for (const fn of lineListeners) fn(line);
  });
  const exited = new Promise<number | null>((resolve) => {
    proc.on('exit', (code) => {
      children.delete(proc);
      resolve(code);
    });
  });
  if (proc.pid === undefined) throw new Error(`could not start ${args.join(' ')}`);
  return {
    proc,
    pid: proc.pid,
    stdout: () => out,
    stderr: () => err,
    onStderrLine: (fn) => lineListeners.push(fn),
    exited,
    async stop(graceMs = 5000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** VmRSS and VmHWM of a live process in KiB; null once it is gone. */
export function memoryOf(pid: number | 'self'): { rssKiB: number; hwmKiB: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)\\s*kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

/** CPU seconds of a process from /proc/<pid>/stat: its own, and of its waited-for children. */
export function cpuOf(pid: number | 'self'): { selfS: number; childrenS: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after the parenthesised command name (which may contain spaces).
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const tick = 100; // USER_HZ on Linux
  const n = (i: number) => Number(rest[i - 3] ?? NaN) / tick;
  return { selfS: n(14) + n(15), childrenS: n(16) + n(17) };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `everyMs` until it returns true; throws after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 50,
): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < Math.ceil(timeoutMs / everyMs) + 1; i++) {
    if (await check()) return performance.now() - started;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** HTTP GET on 127.0.0.1; status and body (no throw on non-2xx). */
export async function httpGet(url: string): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return { status: 0, body: '' };
  }
}

/** Pins every thread of a running process to `cpus` (taskset -a -p -c), e.g. "0" or "0,1". */
export function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}
