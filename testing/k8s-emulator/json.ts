// Small helpers over parsed JSON values (the emulator stores objects as plain JSON).
export type JsonObject = { [key: string]: unknown };

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    for (const k of ka) if (!deepEqual(a[k], b[k])) return false;
    return true;
  }
  return false;
}

export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** `obj.metadata` as an object (created when missing). */
export function metaOf(obj: JsonObject): JsonObject {
  if (!isObject(obj['metadata'])) obj['metadata'] = {};
  return obj['metadata'] as JsonObject;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
