// HostContext: how every probe sees the node. `root` is the host's root filesystem as this process sees
// it (`/host` in the pod, `/` on a bare machine, a fixture directory in tests). Host commands run either
// inside that root (`chroot`) or on this machine after looking them up under the root first (`local`).
// IMPLEMENTATION: owned by the probes work (see docs/ARCHITECTURE.md); the interface is fixed.
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, open, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { ProbeFailure } from './probes/probe.js';

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
  /** Cap on captured stdout (bytes); longer output fails the call. Default 4 MiB. */
  maxBuffer?: number;
}

export interface HostContext {
  readonly root: string;
  readonly execMode: ExecMode;
  /** Absolute path under the root for a host path: hostPath('/etc/os-release'). */
  hostPath(path: string): string;
  /** Reads a host file as UTF-8; rejects with the fs error (ENOENT etc.). */
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

const DEFAULT_MAX_READ = 4 * 1024 * 1024;
const DEFAULT_MAX_BUFFER = 4 * 1024 * 1024;

export interface HostContextOptions {
  root: string;
  execMode: ExecMode;
  /** PATH used after the host directories in `local` mode (default process.env.PATH). */
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

export function createHostContext(options: HostContextOptions): HostContext {
  const root = path.resolve(options.root);
  const execMode = options.execMode;
  const searchPath = options.path ?? process.env.PATH ?? '';

  const hostPath = (p: string): string => {
    // Normalise first so `..` can never climb out of the host root.
    const normal = path.posix.normalize(`/${p}`);
    return root === '/' ? normal : path.join(root, normal);
  };

  /** Local mode: first hit under the host root, then PATH. Also reports a found-but-not-executable file. */
  const locate = async (command: string): Promise<{ file: string; executable: boolean } | null> => {
    if (command.includes('/')) {
      // A path names a host file in both modes: under the root here, as-is inside the chroot.
      const file = hostPath(command);
      const r = await isExecutableFile(file);
      return r === 'no' ? null : { file: execMode === 'chroot' ? command : file, executable: r === 'yes' };
    }
    const dirs =
      execMode === 'chroot'
        ? HOST_BIN_DIRS.map((d) => ({ real: hostPath(d), shown: d }))
        : [
            ...HOST_BIN_DIRS.map((d) => ({ real: hostPath(d), shown: hostPath(d) })),
            ...searchPath
              .split(':')
              .filter((d) => d.length > 0)
              .map((d) => ({ real: d, shown: d })),
          ];
    let notExecutable: { file: string; executable: boolean } | null = null;
    for (const dir of dirs) {
      const r = await isExecutableFile(path.join(dir.real, command));
      if (r === 'yes') return { file: path.join(dir.shown, command), executable: true };
      if (r === 'not-executable' && notExecutable === null) {
        notExecutable = { file: path.join(dir.shown, command), executable: false };
      }
    }
    return notExecutable;
  };

  return {
    root,
    execMode,
    hostPath,
    async readFile(p: string, maxBytes = DEFAULT_MAX_READ): Promise<string> {
      // Bounded read: /proc-like files report size 0, so read in chunks up to maxBytes.
      const fh = await open(hostPath(p), 'r');
      try {
        const chunks: Buffer[] = [];
        let total = 0;
        while (total < maxBytes) {
          const buf = Buffer.alloc(Math.min(65536, maxBytes - total));
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          chunks.push(buf.subarray(0, bytesRead));
          total += bytesRead;
        }
        return Buffer.concat(chunks).toString('utf8');
      } finally {
        await fh.close();
      }
    },
    async exists(p: string): Promise<boolean> {
      try {
        await access(hostPath(p));
        return true;
      } catch {
        return false;
      }
    },
    async statfs(p: string) {
      const s = await statfs(hostPath(p));
      return { capacityBytes: s.bsize * s.blocks, freeBytes: s.bsize * s.bavail };
    },
    async which(command: string): Promise<string | null> {
      const found = await locate(command);
      return found?.executable ? found.file : null;
    },
    async exec(command: string, args: string[], opts: ExecOptions): Promise<ExecResult> {
      let file: string;
      let argv: string[];
      const found = await locate(command);
      if (found === null) throw Object.assign(new Error(`${command}: not found`), { code: 'ENOENT' });
      if (!found.executable) throw new ProbeFailure('not-executable', `${found.file} is not executable`);
      if (execMode === 'chroot') {
        // Looked up under the root first so "not found" stays distinguishable from chroot's exit 127.
        file = 'chroot';
        argv = [root, found.file, ...args];
      } else {
        file = found.file;
        argv = args;
      }
      return runProcess(command, file, argv, opts);
    },
  };
}

function runProcess(label: string, file: string, args: string[], opts: ExecOptions): Promise<ExecResult> {
  const maxBuffer = opts.maxBuffer ?? DEFAULT_MAX_BUFFER;
  return new Promise<ExecResult>((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new ProbeFailure('timeout', `${label} was aborted before it started`));
      return;
    }
    const child = spawn(file, args, {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let settled = false;
    const killGroup = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const seconds = opts.timeoutMs / 1000;
    const timer = setTimeout(() => {
      killGroup();
      finish(() => reject(new ProbeFailure('timeout', `${label} did not answer within ${seconds}s; killed`)));
    }, opts.timeoutMs);
    const onAbort = () => {
      killGroup();
      finish(() => reject(new ProbeFailure('timeout', `${label} was aborted; killed`)));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (d: Buffer) => {
      outBytes += d.length;
      if (outBytes > maxBuffer) {
        killGroup();
        finish(() =>
          reject(new ProbeFailure('exec-failed', `${label} printed more than ${maxBuffer} bytes`)),
        );
        return;
      }
      out.push(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      // stderr is only for messages: keep the first 64 KiB.
      if (errBytes < 65536) err.push(d);
      errBytes += d.length;
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      finish(() => {
        if (e.code === 'ENOENT') reject(e);
        else if (e.code === 'EACCES') reject(new ProbeFailure('not-executable', `${file}: ${e.message}`));
        else reject(new ProbeFailure('exec-failed', `${label}: ${e.message}`));
      });
    });
    child.on('close', (code) => {
      // The leader exited; anything it left behind in its group goes too.
      killGroup();
      finish(() =>
        resolve({
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          code,
        }),
      );
    });
  });
}

/** True for the error exec() rejects with when a command does not exist. */
export function isNotFound(e: unknown): boolean {
  return e instanceof Error && (e as NodeJS.ErrnoException).code === 'ENOENT';
}
