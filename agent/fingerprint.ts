// Change detection: what makes a new report worth sending before the heartbeat. Volatile values are left
// out so a steady node stays quiet: registry latency, and disk free space unless it moved by at least
// max(1 GiB, 1% of the disk) since the last accepted report. Everything else (including probe errors)
// counts. Only a hash and the disks' free bytes are kept, never the past report itself.
import { createHash } from 'node:crypto';
import type { Facts, ProbeError } from '../report/schema.js';

export const DISK_FREE_MIN_CHANGE_BYTES = 1024 ** 3;
export const DISK_FREE_MIN_CHANGE_RATIO = 0.01;

export interface Fingerprint {
  /** sha256 of the facts and probe errors without their volatile values. */
  readonly key: string;
  /** Free bytes per disk path, compared with a threshold instead of exactly. */
  readonly disks: ReadonlyArray<{ path: string; capacityBytes: number; freeBytes: number }>;
}

/** JSON with object keys sorted, so the hash never depends on property order. */
function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function fingerprint(facts: Facts, probeErrors: readonly ProbeError[]): Fingerprint {
  const stable = {
    ...facts,
    disks: facts.disks.map((d) => ({ path: d.path, capacityBytes: d.capacityBytes })),
    registries: facts.registries?.map((r) => ({ ...r, latencyMs: null })) ?? null,
    ...(facts.osmo === undefined ? {} : { osmo: facts.osmo && { ...facts.osmo, latencyMs: null } }),
  };
  const errors = probeErrors
    .map((e) => ({ probe: e.probe, kind: e.kind, message: e.message }))
    .sort((a, b) => stableStringify(a).localeCompare(stableStringify(b)));
  const key = createHash('sha256')
    .update(stableStringify({ facts: stable, probeErrors: errors }))
    .digest('hex');
  return {
    key,
    disks: facts.disks.map((d) => ({ path: d.path, capacityBytes: d.capacityBytes, freeBytes: d.freeBytes })),
  };
}

/** Whether `next` differs from `previous` in a way that is worth a report. */
export function fingerprintChanged(previous: Fingerprint | null, next: Fingerprint): boolean {
  if (previous === null) return true;
  if (previous.key !== next.key) return true;
  // Same key ⇒ same disk paths and capacities, in the same order.
  return next.disks.some((d, i) => {
    const before = previous.disks[i];
    if (before === undefined || before.path !== d.path) return true;
    const threshold = Math.max(DISK_FREE_MIN_CHANGE_BYTES, d.capacityBytes * DISK_FREE_MIN_CHANGE_RATIO);
    return Math.abs(d.freeBytes - before.freeBytes) >= threshold;
  });
}
