// Small helpers shared by the probes: optional reads, short excerpts for parse errors, exec wrappers that
// turn "command not found" into null, and the bounds every emitted fact must respect.
//
// Bounds rule (the aggregator rejects a WHOLE report when one field breaks the report schema, so a probe must
// never emit such a value). The agent must not load typebox or a validator (memory): the schema's limits are
// plain numbers in report/limits.ts, which the schema is built from and the parsers apply by hand:
// - A string fact longer than its schema maxLength, or an integer fact that is not a safe integer within its
//   bounds, makes the probe fail with ProbeFailure('parse') naming the field and quoting an excerpt. Never
//   truncated (a cut version or identifier would be a fabricated one) and never silently nulled: this holds
//   for display strings (cpu model, GPU name, PRETTY_NAME, board) too, one rule for every field.
// - Lists longer than the schema's maxItems keep their first N entries only where the consumer itself reads
//   only the first ones (resolv.conf nameservers, ID_LIKE in order of closeness, GPUs); entries the
//   consumer would ignore anyway (a resolv.conf nameserver that is not an address) are skipped.
// - Error texts (ProbeError.message, RegistryResult.error) are messages, not facts: they are cut to fit.
import type { ExecResult, HostContext } from '../host.js';
import { isNotFound, resolveInRoot } from '../host.js';
import { ProbeFailure } from '../probe-failure.js';

/** A short, single-line excerpt of unexpected input, for ProbeFailure('parse') messages. */
export function excerpt(text: string, max = 80): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(flat.length > max ? `${flat.slice(0, max)}…` : flat);
}

/** Length as JSON Schema counts it (code points, as ajv does), without building an array. */
function codePointLength(value: string, max: number): number {
  if (value.length <= max) return value.length; // code points never exceed UTF-16 units
  let n = 0;
  for (const _ of value) if (++n > max) break;
  return n;
}

/** `value` when it fits the schema's maxLength; else ProbeFailure('parse') naming `what`. null passes. */
export function boundedString<T extends string | null>(value: T, max: number, what: string): T {
  if (value !== null && codePointLength(value, max) > max) {
    throw new ProbeFailure('parse', `${what} is longer than ${max} characters: ${excerpt(value)}`);
  }
  return value;
}

/** `value` when it is a safe integer in [0, max]; else ProbeFailure('parse') naming `what`. null passes. */
export function boundedCount<T extends number | null>(value: T, max: number, what: string): T {
  if (value !== null && !(Number.isSafeInteger(value) && value >= 0 && value <= max)) {
    throw new ProbeFailure('parse', `${what} is not an integer from 0 to ${max}: ${excerpt(String(value))}`);
  }
  return value;
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
    if (e instanceof ProbeFailure) throw e;
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
  maxBuffer?: number,
): Promise<ExecResult | null> {
  try {
    return await host.exec(command, args, {
      timeoutMs,
      ...(signal && { signal }),
      ...(maxBuffer !== undefined && { maxBuffer }),
    });
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

/**
 * Where a host path really lives on this machine, its symlinks resolved under the host root (an absolute
 * link restarts at the root, as on the host). For directory listings, nested roots and paths handed to
 * commands; files are read with host.readFile, which does the same itself. A link loop (ELOOP) or another
 * fs error is a ProbeFailure('read') naming the path, never an untyped (internal) error.
 */
export async function realHostPath(host: HostContext, path: string): Promise<string> {
  try {
    return await resolveInRoot(host.root, path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ProbeFailure(
      'read',
      `cannot resolve ${path} under the host root: ${code ?? (e as Error).message}`,
    );
  }
}
