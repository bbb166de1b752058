// Resolver configuration (etc/resolv.conf nameservers) and whether the host's own name resolves, as the
// host resolves it.

import { isIP } from 'node:net';
import { LIMITS } from '../../report/limits.js';
import type { DnsFacts } from '../../report/schema.js';
import type { HostContext } from '../host.js';
import { ProbeFailure } from '../probe-failure.js';
import { resolveAsHost } from './host-resolve.js';
import { readHostName } from './hostname.js';
import type { Probe } from './probe.js';
import { readOptional } from './support.js';

export const HOSTNAME_LOOKUP_TIMEOUT_MS = 3000;

/**
 * resolv.conf's nameserver addresses, at most LIMITS.dns.nameserverItems (the resolver uses only the first 3),
 * each at most LIMITS.dns.nameserver long (an IPv6 address with a zone id is far shorter).
 * Like glibc, a nameserver that is not an IP address (optionally IPv6 with a %zone) is ignored, so an odd
 * entry never makes the report invalid.
 */
export function parseResolvConf(text: string): string[] {
  const servers: string[] = [];
  for (const line of text.split('\n')) {
    if (servers.length >= LIMITS.dns.nameserverItems) break;
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    // isIP accepts an IPv6 zone (fe80::1%eth0); the length bound comes first so it never sees megabytes.
    if (m && m[1]!.length <= LIMITS.dns.nameserver && isIP(m[1]!) !== 0) servers.push(m[1]!);
  }
  return servers;
}

/**
 * Whether the host resolves its own name the way the host itself would (see resolveAsHost); null when
 * that cannot be told from here. No answer within the bound counts as "does not resolve".
 */
async function hostResolves(host: HostContext, name: string, signal: AbortSignal): Promise<boolean | null> {
  const r = await resolveAsHost(host, name, HOSTNAME_LOOKUP_TIMEOUT_MS, signal);
  switch (r.kind) {
    case 'resolved':
      return true;
    case 'not-found':
    case 'timeout':
      return false;
    case 'unknown':
      // getent could not be run at all: the probe fails and says why, rather than "unknown".
      if (r.cause instanceof ProbeFailure) throw r.cause;
      return null;
  }
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
