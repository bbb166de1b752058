// Small helpers shared by the probes: optional reads, short excerpts for parse errors, exec wrappers that
// turn "command not found" into null.
import type { ExecResult, HostContext } from '../host.js';
import { isNotFound } from '../host.js';
import { ProbeFailure } from './probe.js';

/** A short, single-line excerpt of unexpected input, for ProbeFailure('parse') messages. */
export function excerpt(text: string, max = 80): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(flat.length > max ? `${flat.slice(0, max)}…` : flat);
}

/** Reads a host file; null when it does not exist (ENOENT/ENOTDIR). Other errors propagate. */
export async function readOptional(
  host: HostContext,
  path: string,
  maxBytes?: number,
): Promise<string | null> {
  try {
    return await host.readFile(path, maxBytes);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    // Unreadable (EACCES, EISDIR, ...): a typed failure naming the file, like every other probe error.
    throw new ProbeFailure('read', `cannot read ${path}: ${code ?? (e as Error).message}`);
  }
}

/** Runs a host command; null when the command does not exist on the host. */
export async function execOptional(
  host: HostContext,
  command: string,
  args: string[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<ExecResult | null> {
  try {
    return await host.exec(command, args, signal ? { timeoutMs, signal } : { timeoutMs });
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

/** First non-empty line of stdout, else of stderr. */
export function firstLine(r: ExecResult): string {
  const pick = (s: string) =>
    s
      .split('\n')
      .find((l) => l.trim().length > 0)
      ?.trim() ?? '';
  return pick(r.stdout) || pick(r.stderr);
}
