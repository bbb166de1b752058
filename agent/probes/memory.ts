// Total memory from the host's proc/meminfo (MemTotal, kB → bytes).
import { LIMITS } from '../../report/limits.js';
import type { MemoryFacts } from '../../report/schema.js';
import { ProbeFailure } from '../probe-failure.js';
import type { Probe } from './probe.js';
import { boundedCount, excerpt, readOptional } from './support.js';

export function parseMeminfo(text: string): MemoryFacts {
  const m = /^MemTotal:\s+(\d+)\s*kB\s*$/m.exec(text);
  if (!m) throw new ProbeFailure('parse', `meminfo has no "MemTotal: N kB" line: ${excerpt(text)}`);
  return { totalBytes: boundedCount(Number(m[1]) * 1024, LIMITS.bytes, 'MemTotal in bytes') };
}

export const memoryProbe: Probe<'memory', MemoryFacts> = {
  name: 'memory',
  timeoutMs: 2000,
  async run(host) {
    const text = await readOptional(host, '/proc/meminfo');
    if (text === null) throw new ProbeFailure('read', 'cannot read /proc/meminfo: ENOENT');
    return parseMeminfo(text);
  },
};
