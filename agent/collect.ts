// Runs every probe concurrently, each bounded by its own timeout. A probe that fails or overruns leaves
// its facts field null (disks: []) and adds a ProbeError; the other facts are unaffected.
import { LIMITS } from '../report/limits.js';
import type { Facts, ProbeError, ProbeName } from '../report/schema.js';
import type { HostContext } from './host.js';
import { ProbeFailure } from './probe-failure.js';
import { apiServerEncryptionProbe } from './probes/api-server-encryption.js';
import { containerdProbe } from './probes/containerd.js';
import { cpuProbe } from './probes/cpu.js';
import { disksProbe } from './probes/disks.js';
import { dnsProbe } from './probes/dns.js';
import { gpuProbe } from './probes/gpu.js';
import { hostnameProbe } from './probes/hostname.js';
import { jetsonProbe } from './probes/jetson.js';
import { kubeletProbe } from './probes/kubelet.js';
import { memoryProbe } from './probes/memory.js';
import { osProbe } from './probes/os.js';
import { osmoProbe } from './probes/osmo.js';
import { pciProbe } from './probes/pci.js';
import type { Probe, ProbeOptions } from './probes/probe.js';
import { registriesProbe } from './probes/registries.js';

export { DEFAULT_REGISTRIES } from './probes/registries.js';

export interface CollectOptions extends ProbeOptions {
  /** Per-probe overrides of the probe's own timeout. */
  timeoutsMs?: Partial<Record<ProbeName, number>>;
}

type ProbeTable = { [K in ProbeName]: Probe<K, Facts[K]> };

export const PROBES: ProbeTable = {
  hostname: hostnameProbe,
  cpu: cpuProbe,
  memory: memoryProbe,
  disks: disksProbe,
  os: osProbe,
  gpu: gpuProbe,
  jetson: jetsonProbe,
  containerd: containerdProbe,
  registries: registriesProbe,
  dns: dnsProbe,
  apiServerEncryption: apiServerEncryptionProbe,
  pci: pciProbe,
  kubelet: kubeletProbe,
  osmo: osmoProbe,
};

function emptyFacts(): Facts {
  return {
    hostname: null,
    cpu: null,
    memory: null,
    disks: [],
    os: null,
    gpu: null,
    jetson: null,
    containerd: null,
    registries: null,
    dns: null,
    apiServerEncryption: null,
    pci: null,
    kubelet: null,
    osmo: null,
  };
}

class ProbeTimeout extends Error {}

function toProbeError(probe: ProbeName, e: unknown): ProbeError {
  const max = LIMITS.probeError.message;
  if (e instanceof ProbeFailure) return { probe, kind: e.kind, message: e.message.slice(0, max) };
  const err = e as NodeJS.ErrnoException;
  const kind =
    err?.code === 'ENOENT' || err?.code === 'EACCES' || err?.code === 'EISDIR' ? 'read' : 'internal';
  return { probe, kind, message: String(err?.message ?? e).slice(0, max) };
}

async function runBounded<K extends ProbeName>(
  probe: Probe<K, Facts[K]>,
  host: HostContext,
  options: ProbeOptions,
  timeoutMs: number,
): Promise<Facts[K]> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Abort first so commands the probe started are killed; then stop waiting for it either way.
      controller.abort();
      reject(new ProbeTimeout());
    }, timeoutMs);
  });
  const running = probe.run(host, options, controller.signal);
  // A probe abandoned at the deadline may still reject later: keep that from becoming unhandled.
  running.catch(() => {});
  try {
    return await Promise.race([running, deadline]);
  } catch (e) {
    if (
      e instanceof ProbeTimeout ||
      (controller.signal.aborted && e instanceof ProbeFailure && e.kind === 'timeout')
    ) {
      throw new ProbeFailure(
        'timeout',
        `${probe.name} did not finish within ${timeoutMs / 1000}s; stopped and its commands killed`,
      );
    }
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Above one registry's own bounds (/v2/, then the pull: two of them): the registries are probed
 * concurrently; room for DNS and TLS setup.
 */
export const REGISTRIES_PROBE_MARGIN_MS = 2000;

/** The bound collectFacts puts on a probe: an override, else derived from the options, else its own. */
export function probeTimeoutMs(name: ProbeName, options: CollectOptions): number {
  const override = options.timeoutsMs?.[name];
  if (override !== undefined) return override;
  if (name === 'registries') return 2 * options.registryTimeoutMs + REGISTRIES_PROBE_MARGIN_MS;
  if (name === 'osmo') return options.registryTimeoutMs + REGISTRIES_PROBE_MARGIN_MS;
  return PROBES[name].timeoutMs;
}

export async function collectFacts(
  host: HostContext,
  options: CollectOptions,
): Promise<{ facts: Facts; probeErrors: ProbeError[] }> {
  const facts = emptyFacts();
  const probeErrors: ProbeError[] = [];
  const names = Object.keys(PROBES) as ProbeName[];
  await Promise.all(
    names.map(async <K extends ProbeName>(name: K) => {
      const probe = PROBES[name] as Probe<K, Facts[K]>;
      const timeoutMs = probeTimeoutMs(name, options);
      try {
        facts[name] = await runBounded(probe, host, options, timeoutMs);
      } catch (e) {
        probeErrors.push(toProbeError(name, e));
      }
    }),
  );
  // Stable order for reports and diffs.
  probeErrors.sort((a, b) => names.indexOf(a.probe) - names.indexOf(b.probe));
  return { facts, probeErrors };
}
