// Resolver configuration (etc/resolv.conf nameservers) and whether the host's own name resolves.
import { lookup } from 'node:dns/promises';
import type { DnsFacts } from '../../report/schema.js';
import { parseHostname } from './hostname.js';
import type { Probe } from './probe.js';
import { readOptional } from './support.js';

export const HOSTNAME_LOOKUP_TIMEOUT_MS = 3000;

export function parseResolvConf(text: string): string[] {
  const servers: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && servers.length < 16) servers.push(m[1]!);
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

export const dnsProbe: Probe<'dns', DnsFacts> = {
  name: 'dns',
  timeoutMs: HOSTNAME_LOOKUP_TIMEOUT_MS + 2000,
  async run(host, _options, signal) {
    const resolv = await readOptional(host, '/etc/resolv.conf');
    let name: string | null = null;
    for (const path of ['/proc/sys/kernel/hostname', '/etc/hostname']) {
      const text = await readOptional(host, path);
      if (text === null) continue;
      try {
        name = parseHostname(text);
      } catch {
        name = null;
      }
      if (name !== null) break;
    }
    return {
      nameservers: resolv === null ? [] : parseResolvConf(resolv),
      hostnameResolves: name === null ? null : await resolves(name, HOSTNAME_LOOKUP_TIMEOUT_MS, signal),
    };
  },
};
