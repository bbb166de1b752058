// HostContext: how every probe sees the node. `root` is the host's root filesystem as this process sees
// it (`/host` in the pod, `/` on a bare machine, a fixture directory in tests). Host commands run either
// inside that root (`chroot`) or on this machine after looking them up under the root first (`local`).
// IMPLEMENTATION: owned by the probes work (see docs/ARCHITECTURE.md); the interface is fixed.
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
