// The host's name: the kernel's (proc/sys/kernel/hostname), else etc/hostname.
import type { Probe } from './probe.js';
import { ProbeFailure } from './probe.js';
import { excerpt, readOptional } from './support.js';

export function parseHostname(text: string): string | null {
  const name = text.split('\n')[0]?.trim() ?? '';
  if (name.length === 0) return null;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.length > 253) {
    throw new ProbeFailure('parse', `unexpected host name ${excerpt(name)}`);
  }
  return name;
}

export const hostnameProbe: Probe<'hostname', string | null> = {
  name: 'hostname',
  timeoutMs: 2000,
  async run(host) {
    for (const path of ['/proc/sys/kernel/hostname', '/etc/hostname']) {
      const text = await readOptional(host, path);
      if (text === null) continue;
      const name = parseHostname(text);
      if (name !== null) return name;
    }
    return null;
  },
};
