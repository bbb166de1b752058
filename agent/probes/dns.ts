// Resolver configuration (etc/resolv.conf nameservers) and whether the host's own name resolves, as the
// host resolves it.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { DnsFacts } from '../../report/schema.js';
import type { HostContext } from '../host.js';
import { readHostName } from './hostname.js';
import type { Probe } from './probe.js';
import { ProbeFailure } from './probe.js';
import { execOptional, readOptional } from './support.js';

export const HOSTNAME_LOOKUP_TIMEOUT_MS = 3000;

/** Longest nameserver kept (DnsFacts: Str(128)); an IPv6 address with a zone id is far shorter. */
const MAX_NAMESERVER = 128;

/**
 * resolv.conf's nameserver addresses, at most 16 (the schema's maxItems; the resolver uses only the first 3).
 * Like glibc, a nameserver that is not an IP address (optionally IPv6 with a %zone) is ignored, so an odd
 * entry never makes the report invalid.
 */
export function parseResolvConf(text: string): string[] {
  const servers: string[] = [];
  for (const line of text.split('\n')) {
    if (servers.length >= 16) break;
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    // isIP accepts an IPv6 zone (fe80::1%eth0); the length bound comes first so it never sees megabytes.
    if (m && m[1]!.length <= MAX_NAMESERVER && isIP(m[1]!) !== 0) servers.push(m[1]!);
  }
  return servers;
}

/** true/false from dns.lookup; false also when it does not answer within the bound. */
async function resolves(name: string, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
    signal.addEventListener('abort', () => resolve(false), { once: true });
  });
  try {
    return await Promise.race([
      lookup(name).then(
        () => true,
        () => false,
      ),
      bound,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether the host resolves a name the way the host itself would: `getent ahosts` run on the host goes
 * through its nsswitch, /etc/hosts and resolv.conf (the agent pod's own resolver may be cluster DNS).
 * Without getent, dns.lookup answers only when this machine is the host (root `/`); otherwise unknown.
 */
async function hostResolves(host: HostContext, name: string, signal: AbortSignal): Promise<boolean | null> {
  let r: Awaited<ReturnType<typeof execOptional>>;
  try {
    r = await execOptional(host, 'getent', ['ahosts', name], HOSTNAME_LOOKUP_TIMEOUT_MS, signal);
  } catch (e) {
    if (e instanceof ProbeFailure && e.kind === 'timeout') return false;
    throw e;
  }
  if (r !== null) {
    if (r.code === 0) return true;
    if (r.code === 2) return false; // getent: key not found
    return null;
  }
  return host.root === '/' ? resolves(name, HOSTNAME_LOOKUP_TIMEOUT_MS, signal) : null;
}

export const dnsProbe: Probe<'dns', DnsFacts> = {
  name: 'dns',
  timeoutMs: HOSTNAME_LOOKUP_TIMEOUT_MS + 2000,
  async run(host, _options, signal) {
    const resolv = await readOptional(host, '/etc/resolv.conf');
    let name: string | null;
    try {
      name = await readHostName(host);
    } catch {
      name = null; // no usable name (the hostname probe reports why): whether it resolves is unknown
    }
    return {
      nameservers: resolv === null ? [] : parseResolvConf(resolv),
      hostnameResolves: name === null ? null : await hostResolves(host, name, signal),
    };
  },
};
