// What the validator owns on a Node: the keys recorded in its managed-labels / managed-taints
// annotations, and only those under its own prefix. Keys reserved by Kubernetes are refused outright, so
// a tampered annotation or a bad prefix can never make the reconciler touch them.
import type { Names } from '../k8s/names.js';

const RESERVED_DOMAIN = /(^|\.)(kubernetes\.io|k8s\.io)$/;

export class ReservedKeyError extends Error {
  constructor(key: string) {
    super(`refusing to write or remove "${key}": the key is reserved by Kubernetes`);
    this.name = 'ReservedKeyError';
  }
}

/** True when a label/annotation/taint key sits under kubernetes.io, *.kubernetes.io, k8s.io or *.k8s.io. */
export function isReservedKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash < 0) return false;
  return RESERVED_DOMAIN.test(key.slice(0, slash).toLowerCase());
}

/** Throws unless the key is ours to write: under our prefix and not reserved. */
export function assertOwnableKey(key: string, names: Names): void {
  if (isReservedKey(key)) throw new ReservedKeyError(key);
  if (!key.startsWith(names.labelPrefix)) {
    throw new Error(
      `refusing to write or remove "${key}": not under the validator prefix ${names.labelPrefix}`,
    );
  }
}

/** Parse a managed-* annotation: a JSON array of strings, or a comma-separated list. */
export function parseManagedKeys(value: string | undefined): string[] {
  if (value === undefined) return [];
  const trimmed = value.trim();
  if (trimmed === '') return [];
  let keys: unknown[] = [];
  if (trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (Array.isArray(parsed)) keys = parsed;
    } catch {
      keys = [];
    }
  } else {
    keys = trimmed.split(',');
  }
  return keys
    .filter((k): k is string => typeof k === 'string')
    .map((k) => k.trim())
    .filter((k) => k !== '');
}

/** The keys of a managed-* annotation that we may act on (foreign and reserved keys are dropped). */
export function ownedKeys(value: string | undefined, names: Names): Set<string> {
  return new Set(parseManagedKeys(value).filter((k) => k.startsWith(names.labelPrefix) && !isReservedKey(k)));
}

/** The canonical annotation value for a set of keys: a sorted JSON array. */
export function formatManagedKeys(keys: Iterable<string>): string {
  return JSON.stringify([...new Set(keys)].sort());
}

export function sameKeys(a: Set<string>, b: Set<string>): boolean {
  if (a.size !== b.size) return false;
  for (const k of a) if (!b.has(k)) return false;
  return true;
}
