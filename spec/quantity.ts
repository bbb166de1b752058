// Byte quantities in the spec are written with an explicit unit, in SI/IEC form or as Kubernetes writes
// quantities: `24GB` and `24G` are 24·10^9 bytes, `24GiB` and `24Gi` are 24·2^30. A bare number is not a
// byte quantity (ambiguous), and unknown units (including Kubernetes' milli `m`) are rejected.

export interface ByteQuantity {
  bytes: number;
  /** As written in the spec, e.g. `24GB`. */
  text: string;
  /** The unit was binary (KiB, MiB, GiB…): observed values are then shown in binary units too. */
  binary: boolean;
}

const UNITS: Readonly<Record<string, number>> = {
  B: 1,
  kB: 1e3,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  PB: 1e15,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
  PiB: 2 ** 50,
  // Kubernetes quantity suffixes (resource.Quantity): decimal k, M, G, T, P, E; binary Ki … Ei.
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY_RE = /^(\d{1,15}(?:\.\d{1,6})?) ?([A-Za-z]{1,3})$/;

export function parseByteQuantity(text: string): ByteQuantity | null {
  if (typeof text !== 'string') return null;
  const m = QUANTITY_RE.exec(text.trim());
  if (!m) return null;
  const factor = UNITS[m[2] ?? ''];
  if (factor === undefined) return null;
  const bytes = Math.round(Number(m[1]) * factor);
  if (!Number.isSafeInteger(bytes)) return null;
  return { bytes, text: text.trim(), binary: (m[2] ?? '').includes('i') };
}

const DECIMAL = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'] as const;
const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** `25.1 GB` / `23.4 GiB`: one decimal, trailing `.0` dropped. */
export function formatBytes(bytes: number, binary = false): string {
  const base = binary ? 1024 : 1000;
  const units = binary ? BINARY : DECIMAL;
  let value = bytes;
  let unit = 0;
  while (value >= base && unit < units.length - 1) {
    value /= base;
    unit++;
  }
  const shown =
    unit === 0 ? String(Math.round(value)) : (Math.floor(value * 10) / 10).toFixed(1).replace(/\.0$/, '');
  return `${shown} ${units[unit]}`;
}
