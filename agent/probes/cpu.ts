// CPU: architecture (uname -m through the exec mode), online logical CPUs (what the kubelet counts),
// physical cores and model from proc/cpuinfo.
import { LIMITS } from '../../report/limits.js';
import type { CpuFacts } from '../../report/schema.js';
import { ProbeFailure } from '../probe-failure.js';
import type { Probe } from './probe.js';
import { boundedCount, boundedString, excerpt, execOptional, readOptional } from './support.js';

/** uname's machine name as Kubernetes spells architectures: aarch64 → arm64, everything else as printed. */
export function normaliseArch(machine: string): string {
  const m = machine.trim();
  if (m === 'aarch64' || m === 'arm64') return 'arm64';
  return boundedString(m, LIMITS.cpu.arch, 'uname -m');
}

/** Counts CPUs in a sysfs cpu list such as `0-63` or `0-3,8-11,16`; ids and the count within Count()'s bound. */
export function parseCpuList(text: string): number {
  const list = text.trim();
  if (list.length === 0) throw new ProbeFailure('parse', 'empty online CPU list');
  let count = 0;
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new ProbeFailure('parse', `unexpected online CPU list ${excerpt(list)}`);
    // Ids are bounded before subtracting: 1e300 - 1e300 + 1 would count one CPU.
    const lo = boundedCount(Number(m[1]), LIMITS.count, 'online CPU id');
    const hi = m[2] === undefined ? lo : boundedCount(Number(m[2]), LIMITS.count, 'online CPU id');
    if (hi < lo) throw new ProbeFailure('parse', `unexpected online CPU range ${excerpt(part)}`);
    count = boundedCount(count + hi - lo + 1, LIMITS.count, 'online CPU count');
  }
  return count;
}

export interface CpuinfoFacts {
  processors: number;
  physicalCores: number | null;
  model: string | null;
}

/** proc/cpuinfo: processor count, unique (physical id, core id) pairs, model (x86 model name; arm Hardware or CPU part). */
export function parseCpuinfo(text: string): CpuinfoFacts {
  let processors = 0;
  const cores = new Set<string>();
  let missingTopology = false;
  let model: string | null = null;
  let hardware: string | null = null;
  let cpuPart: string | null = null;
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of block.split('\n')) {
      const i = line.indexOf(':');
      if (i < 0) continue;
      fields.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
    if (fields.has('Hardware')) hardware = fields.get('Hardware') || null;
    if (!fields.has('processor')) continue;
    if (cpuPart === null && fields.get('CPU part')) cpuPart = fields.get('CPU part')!;
    processors++;
    const name = fields.get('model name');
    if (model === null && name) model = name;
    const phys = fields.get('physical id');
    const core = fields.get('core id');
    if (phys === undefined || core === undefined) missingTopology = true;
    else cores.add(`${phys}/${core}`);
  }
  return {
    processors: boundedCount(processors, LIMITS.count, 'cpuinfo processor count'),
    physicalCores: boundedCount(
      missingTopology || cores.size === 0 ? null : cores.size,
      LIMITS.count,
      'cpuinfo physical core count',
    ),
    // arm has no "model name": the board's Hardware line, else the raw CPU part id, else unknown.
    model: boundedString(model ?? hardware ?? cpuPart, LIMITS.cpu.model, 'cpuinfo model'),
  };
}

/**
 * The most of /proc/cpuinfo read: ~1.6 KB per logical CPU on x86 (the flags line), so a 768-thread
 * machine prints ~1.2 MiB; 4 MiB is ~2,500 CPUs. Past it the text is cut (the count comes from the
 * online list when there is one).
 */
export const CPUINFO_MAX_BYTES = 4 * 1024 * 1024;

export const cpuProbe: Probe<'cpu', CpuFacts> = {
  name: 'cpu',
  timeoutMs: 5000,
  async run(host, _options, signal) {
    let arch: string | null = null;
    const uname = await execOptional(host, 'uname', ['-m'], 3000, signal);
    if (uname && uname.code === 0 && uname.stdout.trim().length > 0) arch = normaliseArch(uname.stdout);
    if (arch === null) {
      const text = await readOptional(host, '/proc/sys/kernel/arch');
      if (text?.trim()) arch = normaliseArch(text);
    }
    if (arch === null)
      throw new ProbeFailure('exec-failed', 'uname -m gave no answer and /proc/sys/kernel/arch is absent');

    const cpuinfoText = await readOptional(host, '/proc/cpuinfo', CPUINFO_MAX_BYTES);
    const cpuinfo = cpuinfoText === null ? null : parseCpuinfo(cpuinfoText);
    const online = await readOptional(host, '/sys/devices/system/cpu/online');
    let logicalCores: number;
    if (online !== null) logicalCores = parseCpuList(online);
    else if (cpuinfo && cpuinfo.processors > 0) logicalCores = cpuinfo.processors;
    else
      throw new ProbeFailure(
        'read',
        'neither /sys/devices/system/cpu/online nor processors in /proc/cpuinfo',
      );

    return {
      arch,
      logicalCores,
      physicalCores: cpuinfo?.physicalCores ?? null,
      model: cpuinfo?.model ?? null,
    };
  },
};
