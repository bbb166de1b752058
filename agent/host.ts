// HostContext: how every probe sees the node. `root` is the host's root filesystem as this process sees
// it (`/host` in the pod, `/` on a bare machine, a fixture directory in tests). Host commands run either
// inside that root (`chroot`) or on this machine after looking them up under the root first (`local`).
// IMPLEMENTATION: owned by the probes work (see docs/ARCHITECTURE.md); the interface is fixed.
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { constants as fsConstants, readdirSync, readFileSync } from 'node:fs';
import { access, lstat, open, readlink, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ProbeFailure } from './probe-failure.js';

export type ExecMode = 'local' | 'chroot';

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit code; null when killed by a signal. */
  code: number | null;
}

export interface ExecOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Cap on captured stdout (bytes); longer output fails the call. Default DEFAULT_MAX_BUFFER (1 MiB). */
  maxBuffer?: number;
}

export interface HostContext {
  readonly root: string;
  readonly execMode: ExecMode;
  /** Absolute path under the root for a host path: hostPath('/etc/os-release'). */
  hostPath(path: string): string;
  /**
   * Reads a host file as UTF-8; rejects with the fs error (ENOENT etc.), or ProbeFailure('read') when it is
   * longer than maxBytes (never a truncated text).
   */
  readFile(path: string, maxBytes?: number): Promise<string>;
  /** Whether a host path exists (no throw). */
  exists(path: string): Promise<boolean>;
  /** statfs of a host path: total and available bytes for an unprivileged user (like df). */
  statfs(path: string): Promise<{ capacityBytes: number; freeBytes: number }>;
  /** Finds a host command as exec mode would run it; null when not found. */
  which(command: string): Promise<string | null>;
  /**
   * Runs a host command. Rejects with ProbeFailure('not-executable' | 'exec-failed' | 'timeout', ...) when
   * it cannot be started, or is killed at the timeout (the whole process group is killed). A non-zero
   * exit is NOT a rejection: inspect `code`.
   */
  exec(command: string, args: string[], options: ExecOptions): Promise<ExecResult>;
}

// ---------------------------------------------------------------------------------------------------------
// Implementation. node:child_process only (execa costs memory on every node); each command runs in its own
// process group so a timeout can kill everything it forked (a hung nvidia-smi that forks must not survive).

/** Where `local` exec mode looks for a command under the host root, in order, before PATH. */
export const HOST_BIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * What readFile and exec read at most unless told otherwise (a host file, a command's stdout). The files
 * and commands read with these print a few KB on real hosts (os-release, meminfo, resolv.conf, `uname
 * -m`, `containerd --version`, `getent ahosts`); a probe cycle reads about ten of them at once, so the
 * default bounds the cycle's peak: with every one at 4 MiB (the earlier default) the agent peaked at
 * ~129 MiB under the DaemonSet's flags, past its 128Mi limit. Larger inputs have their own caps.
 */
export const DEFAULT_MAX_READ = 1024 * 1024;
export const DEFAULT_MAX_BUFFER = 1024 * 1024;
/** After a command's 'exit', how long its pipes may still deliver output before we stop reading them. */
const EXIT_DRAIN_MS = 100;
/** Like the kernel's limit on symbolic links followed in one lookup (ELOOP beyond it). */
export const MAX_SYMLINK_HOPS = 40;

/**
 * The path on this machine of a host path, following its symbolic links the way the host's kernel would:
 * absolute targets restart at the root, relative ones continue from the link's directory, and `..` never
 * climbs above the root (like chroot). Without this the kernel follows an absolute link such as
 * `/usr/local/cuda -> /etc/alternatives/cuda` inside THIS container, not under the host root.
 * One lstat per component (plus one readlink per link); no caching.
 * A component that cannot be looked up (ENOENT, ENOTDIR, EACCES, ...) ends the walk: the rest is joined as
 * it is, so the caller's own open/stat reports that very error. Rejects with code ELOOP after
 * MAX_SYMLINK_HOPS links.
 */
export async function resolveInRoot(root: string, hostFile: string): Promise<string> {
  const normal = path.posix.normalize(`/${hostFile}`);
  if (root === '/') return normal; // the kernel already resolves the host's own links
  const done: string[] = []; // real (non-link) components under the root
  const todo = hostFile.split('/').reverse(); // a stack: next component last
  let hops = 0;
  while (todo.length > 0) {
    const name = todo.pop() as string;
    if (name === '' || name === '.') continue;
    if (name === '..') {
      done.pop(); // `done` holds no links, so its parent is the real parent; at the root it stays there
      continue;
    }
    const here = path.join(root, ...done, name);
    let isLink: boolean;
    try {
      isLink = (await lstat(here)).isSymbolicLink();
    } catch {
      return path.join(here, ...todo.reverse());
    }
    if (!isLink) {
      done.push(name);
      continue;
    }
    hops += 1;
    if (hops > MAX_SYMLINK_HOPS) {
      throw Object.assign(new Error(`ELOOP: too many symbolic links under ${root} resolving ${normal}`), {
        code: 'ELOOP',
        path: normal,
      });
    }
    const target = await readlink(here);
    if (target.startsWith('/')) done.length = 0;
    for (const part of target.split('/').reverse()) todo.push(part);
  }
  return path.join(root, ...done);
}

export interface HostContextOptions {
  root: string;
  execMode: ExecMode;
  /**
   * PATH searched after the host directories in `local` mode when the root is `/` (default
   * process.env.PATH). Under any other root it is never searched: a fixture or mounted host root holds
   * exactly the host's commands, and this machine's copy would be reported as the host's.
   */
  path?: string;
}

async function isExecutableFile(file: string): Promise<'yes' | 'no' | 'not-executable'> {
  try {
    const st = await stat(file);
    if (!st.isFile()) return 'no';
  } catch {
    return 'no';
  }
  try {
    await access(file, fsConstants.X_OK);
    return 'yes';
  } catch {
    return 'not-executable';
  }
}

/** What createHostContext returns: a HostContext that can also say where a host path really lives. */
export interface RootedHostContext extends HostContext {
  /** resolveInRoot(root, path): the file on this machine a host path names after the host's symlinks. */
  resolveInRoot(path: string): Promise<string>;
}

export function createHostContext(options: HostContextOptions): RootedHostContext {
  const root = path.resolve(options.root);
  const execMode = options.execMode;
  const searchPath = options.path ?? process.env.PATH ?? '';

  const hostPath = (p: string): string => {
    // Normalise first so `..` can never climb out of the host root.
    const normal = path.posix.normalize(`/${p}`);
    return root === '/' ? normal : path.join(root, normal);
  };

  const inRoot = (p: string): Promise<string> => resolveInRoot(root, p);
  const locate = makeLocator(root, execMode, searchPath, hostPath);

  return {
    root,
    execMode,
    hostPath,
    resolveInRoot: inRoot,
    async readFile(p: string, maxBytes = DEFAULT_MAX_READ): Promise<string> {
      return readBounded(await inRoot(p), maxBytes);
    },
    async exists(p: string): Promise<boolean> {
      try {
        await access(await inRoot(p));
        return true;
      } catch {
        return false;
      }
    },
    async statfs(p: string) {
      const s = await statfs(await inRoot(p));
      return { capacityBytes: s.bsize * s.blocks, freeBytes: s.bsize * s.bavail };
    },
    async which(command: string): Promise<string | null> {
      const found = await locate(command);
      return found?.executable ? found.file : null;
    },
    async exec(command: string, args: string[], opts: ExecOptions): Promise<ExecResult> {
      const found = await locate(command);
      if (found === null) throw Object.assign(new Error(`${command}: not found`), { code: 'ENOENT' });
      if (!found.executable) throw new ProbeFailure('not-executable', `${found.file} is not executable`);
      return runProcess(spawnableFor(found, command, args, root, execMode), opts);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Live host processes. Each exec runs in its own process group (detached); the group stays registered until
// the leader's 'exit'. A process stuck in the kernel (D state, e.g. nvidia-smi after an Xid error) outlives
// SIGKILL, so after a timeout it can stay registered for a long time: exec refuses to start a second copy
// of it, and at exit every group still registered gets SIGKILL so no host command outlives the agent.

interface LiveProcess {
  /** pid of the leader = pgid of the group. */
  pid: number;
  /** Same resolved file and arguments = the same command. */
  key: string;
  startedAt: number;
  /** Its exec call already gave up on it (timeout, abort, output cap): whatever still runs is stuck. */
  abandoned: boolean;
}

const liveProcesses = new Map<number, LiveProcess>();
let exitHookInstalled = false;

// A command may start children in a new session (setsid, a daemonizing helper): they leave its process
// group, so killing the group misses them. Every command gets a marker in its environment, which its
// descendants inherit wherever they go; once the command is over, /proc is swept for processes carrying the
// marker and those are killed. (A descendant that clears its environment escapes; none of the host commands
// the probes run does.)
const EXEC_MARKER = 'OSMO_VALIDATOR_EXEC';
let execCounter = 0;

function markerOf(id: string): Buffer {
  return Buffer.from(`${EXEC_MARKER}=${id}\0`);
}

/**
 * SIGKILLs every process whose environment carries the marker (an exact id, or with `prefix` every id that
 * starts with it); returns how many. Synchronous, so it is safe in an 'exit' listener. Linux /proc only;
 * elsewhere it finds nothing.
 */
export function killMarkedProcesses(id: string, prefix = false): number {
  const needle = prefix ? Buffer.from(`${EXEC_MARKER}=${id}`) : markerOf(id);
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return 0;
  }
  let killed = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let environ: Buffer;
    try {
      environ = readFileSync(`/proc/${entry}/environ`);
    } catch {
      continue; // gone, or not ours to read
    }
    if (environ.indexOf(needle) < 0) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
      killed += 1;
    } catch {
      // already gone
    }
  }
  return killed;
}

/**
 * SIGKILLs every process group started by exec whose leader has not exited yet; returns how many were signalled.
 * Runs by itself at process exit; commands that handle SIGINT/SIGTERM call it before exiting too.
 * Synchronous, so it is safe in an 'exit' listener.
 */
export function killAllHostProcesses(): number {
  let signalled = 0;
  for (const p of liveProcesses.values()) {
    try {
      process.kill(-p.pid, 'SIGKILL');
      signalled += 1;
    } catch {
      // already gone
    }
  }
  // And whatever any of our commands left behind outside its group (a new session).
  if (execCounter > 0) killMarkedProcesses(`${process.pid}-`, true);
  return signalled;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    killAllHostProcesses();
  });
}

interface Spawnable {
  /** The command as the probe named it, for messages. */
  label: string;
  file: string;
  args: string[];
  argv0: string;
  /** Message when spawn fails with ENOENT/EACCES after the command was found. */
  cannotStart: (code: string) => string;
}

interface Located {
  /** What runs: a path on this machine (local) or inside the root (chroot). */
  file: string;
  /** argv[0] as the command was named (multi-call binaries such as busybox dispatch on it). */
  argv0: string;
  executable: boolean;
}

/** Finds a host command as exec mode runs it: under the host root, then PATH (local mode, root `/` only). */
function makeLocator(
  root: string,
  execMode: ExecMode,
  searchPath: string,
  hostPath: (p: string) => string,
): (command: string) => Promise<Located | null> {
  const inRoot = (p: string): Promise<string> => resolveInRoot(root, p);

  /**
   * A host file as exec mode runs it, or null. In local mode the host's symlinks are resolved under the
   * root (an absolute link into /opt must not be followed inside this container); chroot resolves them
   * itself.
   */
  const locateHostFile = async (hostFile: string): Promise<Located | null> => {
    const normal = path.posix.normalize(`/${hostFile}`);
    let real: string;
    try {
      real = await inRoot(normal);
    } catch {
      return null; // a link loop: nothing runnable there
    }
    const r = await isExecutableFile(real);
    if (r === 'no') return null;
    if (execMode === 'chroot') return { file: normal, argv0: normal, executable: r === 'yes' };
    return { file: real, argv0: hostPath(normal), executable: r === 'yes' };
  };

  /** A file on this machine (PATH in local mode): its links are this machine's; the kernel resolves them. */
  const locateHere = async (file: string): Promise<Located | null> => {
    const r = await isExecutableFile(file);
    return r === 'no' ? null : { file, argv0: file, executable: r === 'yes' };
  };

  /** PATH directories `locate` may search: only in local mode on this machine's own root. */
  const pathDirs =
    execMode === 'local' && root === '/' ? searchPath.split(':').filter((d) => d.length > 0) : [];

  /**
   * First hit under the host root, then PATH (local mode with root `/` only). Also reports a
   * found-but-not-executable file.
   */
  const locate = async (command: string): Promise<Located | null> => {
    // A path names a host file in both modes: under the root here, as-is inside the chroot.
    if (command.includes('/')) return locateHostFile(command);
    const candidates: Array<() => Promise<Located | null>> = [
      ...HOST_BIN_DIRS.map((dir) => () => locateHostFile(`${dir}/${command}`)),
      ...pathDirs.map((dir) => () => locateHere(path.join(dir, command))),
    ];
    let notExecutable: Located | null = null;
    for (const candidate of candidates) {
      const found = await candidate();
      if (found?.executable) return found;
      if (found !== null && notExecutable === null) notExecutable = found;
    }
    return notExecutable;
  };
  return locate;
}

/**
 * Bounded read: /proc-like files report size 0, so read in chunks up to maxBytes. A file longer than that
 * is refused (ProbeFailure 'read', naming the file and the bound), never cut: a truncated file would be
 * parsed as if it were whole (a mount table without its later entries, half an encryption config).
 */
async function readBounded(file: string, maxBytes: number): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    while (total <= maxBytes) {
      const buf = Buffer.alloc(Math.min(65536, maxBytes + 1 - total));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      total += bytesRead;
    }
    if (total > maxBytes)
      throw new ProbeFailure('read', `${file} is larger than ${maxBytes} bytes; not read`);
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** How a located host command is started in each exec mode. */
function spawnableFor(
  found: { file: string; argv0: string },
  command: string,
  args: string[],
  root: string,
  execMode: ExecMode,
): Spawnable {
  if (execMode === 'chroot') {
    // Looked up under the root first so "not found" stays distinguishable from chroot's exit 127.
    return {
      label: command,
      file: 'chroot',
      args: [root, found.file, ...args],
      argv0: 'chroot',
      cannotStart: (code) => `${command}: chroot could not be started (${code})`,
    };
  }
  return {
    label: command,
    file: found.file,
    args,
    argv0: found.argv0,
    // Found, yet execve fails: typically the ELF interpreter (/lib64/ld-linux-x86-64.so.2) or a
    // library path of the host does not exist on this machine. Not "not installed".
    cannotStart: (code) =>
      `${command} was found at ${found.file} but could not be started (${code}); ` +
      "run with --exec-mode chroot to use the host's own libraries",
  };
}

/** A copy of the same command from an earlier run still stuck (abandoned after a timeout), or null. */
function stuckCopy(key: string, label: string): ProbeFailure | null {
  for (const p of liveProcesses.values()) {
    if (p.key === key && p.abandoned) {
      const stuckFor = Math.round((Date.now() - p.startedAt) / 1000);
      return new ProbeFailure(
        'timeout',
        `${label} from a previous run is still running (pid ${p.pid}, stuck for ${stuckFor}s); not starting another`,
      );
    }
  }
  return null;
}

/** Starts the command in its own process group, marked so what it leaves behind can be found. */
function startChild(cmd: Spawnable, key: string) {
  installExitHook();
  execCounter += 1;
  const execId = `${process.pid}-${execCounter}`;
  const child = spawn(cmd.file, cmd.args, {
    argv0: cmd.argv0,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_ALL: 'C', [EXEC_MARKER]: execId },
  });
  const live: LiveProcess | null =
    child.pid === undefined ? null : { pid: child.pid, key, startedAt: Date.now(), abandoned: false };
  if (live !== null) liveProcesses.set(live.pid, live);
  return { child, live, execId };
}

/** stdout up to maxBuffer (beyond it `overflow` is called), stderr's first 64 KiB (it is only for messages). */
function collectOutput(
  child: ChildProcessByStdio<null, Readable, Readable>,
  maxBuffer: number,
  overflow: () => void,
) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let outBytes = 0;
  let errBytes = 0;
  child.stdout.on('data', (d: Buffer) => {
    outBytes += d.length;
    if (outBytes > maxBuffer) {
      overflow();
      return;
    }
    out.push(d);
  });
  child.stderr.on('data', (d: Buffer) => {
    if (errBytes < 65536) err.push(d);
    errBytes += d.length;
  });
  return {
    text: () => ({
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
    }),
  };
}

function runProcess(cmd: Spawnable, opts: ExecOptions): Promise<ExecResult> {
  const { label, file, args } = cmd;
  const maxBuffer = opts.maxBuffer ?? DEFAULT_MAX_BUFFER;
  return new Promise<ExecResult>((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new ProbeFailure('timeout', `${label} was aborted before it started`));
      return;
    }
    const key = JSON.stringify([file, ...args]);
    const stuck = stuckCopy(key, label);
    if (stuck !== null) {
      reject(stuck);
      return;
    }
    const { child, live, execId } = startChild(cmd, key);
    let settled = false;
    const killGroup = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      killMarkedProcesses(execId);
    };
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    /** Stop reading: whatever still holds the pipes (even outside the group) must not keep us alive. */
    const letGo = () => {
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
    };
    /** Kill the group and give up on it; it stays registered until its leader's 'exit'. */
    const abandon = (failure: ProbeFailure) => {
      killGroup();
      if (live !== null) live.abandoned = true;
      finish(() => reject(failure));
      letGo();
    };
    const seconds = opts.timeoutMs / 1000;
    const timer = setTimeout(() => {
      abandon(new ProbeFailure('timeout', `${label} did not answer within ${seconds}s; killed`));
    }, opts.timeoutMs);
    const onAbort = () => {
      abandon(new ProbeFailure('timeout', `${label} was aborted; killed`));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const output = collectOutput(child, maxBuffer, () =>
      abandon(new ProbeFailure('exec-failed', `${label} printed more than ${maxBuffer} bytes`)),
    );
    child.on('error', (e: NodeJS.ErrnoException) => {
      // Only reached when the spawn itself failed (the command was located before): never "not found".
      if (live !== null) liveProcesses.delete(live.pid);
      finish(() => {
        if (e.code === 'ENOENT' || e.code === 'EACCES') {
          reject(new ProbeFailure('exec-failed', cmd.cannotStart(e.code)));
        } else reject(new ProbeFailure('exec-failed', `${label}: ${e.message}`));
      });
    });
    const succeed = (code: number | null) => finish(() => resolve({ ...output.text(), code }));
    child.on('exit', (code) => {
      // The leader exited; anything it left behind in its group goes too.
      killGroup();
      if (live !== null) liveProcesses.delete(live.pid);
      if (settled) return;
      // 'close' waits for every holder of the pipes; one that left the group (setsid) can hold them for
      // as long as it likes. Drain what was written for a moment, then stop waiting.
      const drain = setTimeout(() => {
        succeed(code);
        letGo();
      }, EXIT_DRAIN_MS);
      child.once('close', () => {
        clearTimeout(drain);
        succeed(code);
      });
    });
  });
}

/** True for the error exec() rejects with when a command does not exist. */
export function isNotFound(e: unknown): boolean {
  return e instanceof Error && (e as NodeJS.ErrnoException).code === 'ENOENT';
}
