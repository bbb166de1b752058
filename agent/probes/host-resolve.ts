// Resolving a name the way the host itself would: `getent ahosts` run as a host command goes through the
// host's nsswitch, /etc/hosts (where registry mirrors are pinned) and resolv.conf, not the agent pod's own
// resolver (cluster DNS). Shared by the dns probe (does the host's own name resolve?) and the registries
// probe (which address would containerd contact?).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { HostContext } from '../host.js';
import { ProbeFailure } from '../probe-failure.js';
import { execOptional, firstLine } from './support.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type HostResolution =
  /** Every address, in the resolver's order (getaddrinfo's preference first). */
  | { kind: 'resolved'; addresses: ResolvedAddress[] }
  /** The host's resolver says there is no such name. */
  | { kind: 'not-found' }
  /** No answer within the bound: for a client on the host with that patience, the name does not resolve. */
  | { kind: 'timeout' }
  /** How the host would resolve it cannot be told from here; `cause` is a failure to run getent, if any. */
  | { kind: 'unknown'; reason: string; cause?: unknown };

/** Every distinct address `getent ahosts NAME` printed (`ADDRESS STREAM NAME` lines), in its order. */
export function parseGetentAhosts(output: string): ResolvedAddress[] {
  const seen = new Map<string, ResolvedAddress>();
  for (const line of output.split('\n')) {
    const address = line.trim().split(/\s+/)[0] ?? '';
    const family = address.length <= 64 ? isIP(address) : 0;
    if ((family === 4 || family === 6) && !seen.has(address)) seen.set(address, { address, family });
  }
  return [...seen.values()];
}

/**
 * Whether the getent exec mode would run answers as the host does: inside the host (chroot), on the host
 * itself (root `/`), or a getent that lives under the host root (fixture hosts' fakes stand in for the host
 * there). A getent found on this machine's PATH would consult THIS machine's nsswitch and resolv.conf.
 */
async function hostGetent(host: HostContext): Promise<'use' | 'missing' | 'foreign'> {
  const file = await host.which('getent');
  if (file === null) return 'missing';
  if (host.execMode === 'chroot' || host.root === '/') return 'use';
  const root = host.root.endsWith('/') ? host.root : `${host.root}/`;
  return file.startsWith(root) ? 'use' : 'foreign';
}

function bounded<T>(p: Promise<T>, timeoutMs: number, signal: AbortSignal): Promise<T | 'timeout'> {
  return new Promise<T | 'timeout'>((resolve, reject) => {
    const onAbort = () => finish(() => resolve('timeout'));
    const timer = setTimeout(onAbort, timeoutMs);
    const finish = (fn: () => void) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      fn();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => finish(() => resolve(v)),
      (e: unknown) => finish(() => reject(e)),
    );
  });
}

/**
 * Resolves `name` as the host does. `timeoutMs` bounds the whole lookup (running getent, or dns.lookup when
 * this machine is the host); when it passes, or `signal` aborts, the answer is `timeout`. Never answers
 * with this machine's resolver unless this machine is the host (root `/`).
 */
export async function resolveAsHost(
  host: HostContext,
  name: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<HostResolution> {
  const getent = await hostGetent(host);
  if (getent === 'foreign') {
    return { kind: 'unknown', reason: `cannot resolve ${name} as the host does: use --exec-mode chroot` };
  }
  if (getent === 'missing') {
    if (host.root !== '/') {
      return { kind: 'unknown', reason: `cannot resolve ${name} as the host does: getent not found` };
    }
    try {
      const all = await bounded(lookup(name, { all: true }), timeoutMs, signal);
      if (all === 'timeout') return { kind: 'timeout' };
      const addresses = all.filter((a): a is ResolvedAddress => a.family === 4 || a.family === 6);
      return addresses.length > 0 ? { kind: 'resolved', addresses } : { kind: 'not-found' };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA') return { kind: 'not-found' };
      return { kind: 'unknown', reason: code ?? String(e), cause: e };
    }
  }
  let r: Awaited<ReturnType<typeof execOptional>>;
  try {
    r = await execOptional(host, 'getent', ['ahosts', name], timeoutMs, signal);
  } catch (e) {
    if (e instanceof ProbeFailure && e.kind === 'timeout') return { kind: 'timeout' };
    return {
      kind: 'unknown',
      reason: `cannot resolve ${name} as the host does: ${(e as Error).message}`,
      cause: e,
    };
  }
  if (r === null)
    return { kind: 'unknown', reason: `cannot resolve ${name} as the host does: getent not found` };
  if (r.code === 2) return { kind: 'not-found' }; // getent: key not found
  const addresses = r.code === 0 ? parseGetentAhosts(r.stdout) : [];
  if (addresses.length > 0) return { kind: 'resolved', addresses };
  const said = firstLine(r);
  return {
    kind: 'unknown',
    reason: `getent ahosts ${name} exited ${r.code}${said ? `: ${said}` : ' without an address'}`,
  };
}
