// The host's name, from proc/sys/kernel/hostname (the kernel's) and etc/hostname; which one wins when both
// exist and differ depends on whether this machine is the host (see readHostName).
import { DNS_SUBDOMAIN_MAX_LENGTH } from '../../report/grammars.js';
import type { HostContext } from '../host.js';
import { ProbeFailure } from '../probe-failure.js';
import type { Probe } from './probe.js';
import { excerpt, readOptional } from './support.js';

export function parseHostname(text: string): string | null {
  const name = text.split('\n')[0]?.trim() ?? '';
  if (name.length === 0) return null;
  // At most as long as a DNS name (within the schema's LIMITS.facts.hostname); the node name is checked later.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.length > DNS_SUBDOMAIN_MAX_LENGTH) {
    throw new ProbeFailure('parse', `unexpected host name ${excerpt(name)}`);
  }
  return name;
}

/**
 * The host's name, or null when neither source has one; an invalid name is ProbeFailure('parse').
 * proc/sys/kernel/hostname is not a file of the host: the kernel answers with the UTS namespace of the
 * process READING it. On host root `/` that is the host's own (and etc/hostname may be stale after a
 * `hostname` or DHCP change), so the kernel's name wins. Under another root (the pod's /host) it is the
 * pod's name unless the pod shares the host's UTS namespace (hostNetwork, as our DaemonSet does, where
 * both agree anyway), so the host's etc/hostname wins. Either way the other source fills in when the
 * preferred one is missing or empty.
 */
export async function readHostName(host: HostContext): Promise<string | null> {
  const sources =
    host.root === '/'
      ? ['/proc/sys/kernel/hostname', '/etc/hostname']
      : ['/etc/hostname', '/proc/sys/kernel/hostname'];
  for (const path of sources) {
    const text = await readOptional(host, path);
    if (text === null) continue;
    const name = parseHostname(text);
    if (name !== null) return name;
  }
  return null;
}

export const hostnameProbe: Probe<'hostname', string | null> = {
  name: 'hostname',
  timeoutMs: 2000,
  run: (host) => readHostName(host),
};
