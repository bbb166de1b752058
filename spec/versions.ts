// Deliberate version comparison. The versions the baseline names are not semver: NVIDIA drivers print
// `535.216.03` (the `03` is the number 3), CUDA and JetPack are dotted numbers, and distro packages use
// Debian ordering (`1.6.20~ds1` sorts before `1.6.20`). Anything that does not parse is `null`, never a
// guess, so a garbage version can never pass a check.

export const VERSION_SCHEMES = ['nvidia-driver', 'dotted', 'debian'] as const;
export type VersionScheme = (typeof VERSION_SCHEMES)[number];

export type ParsedVersion =
  | { scheme: 'nvidia-driver' | 'dotted'; text: string; major: number; parts: number[] }
  | { scheme: 'debian'; text: string; major: number; epoch: number; upstream: string; revision: string };

// At most 9 digits per part keeps every part an exact JS number.
const DRIVER_RE = /^(\d{1,9})\.(\d{1,9})(?:\.(\d{1,9}))?$/;
const DOTTED_RE = /^\d{1,9}(?:\.\d{1,9}){0,5}$/;
const DEB_UPSTREAM_RE = /^[0-9][A-Za-z0-9.+~-]*$/;
const DEB_REVISION_RE = /^[A-Za-z0-9.+~]+$/;
const DEB_EPOCH_RE = /^\d{1,9}$/;
const LEADING_DIGITS_RE = /^\d{1,9}/;

export function parseVersion(text: string, scheme: VersionScheme): ParsedVersion | null {
  if (typeof text !== 'string') return null;
  const t = text.trim();
  switch (scheme) {
    case 'nvidia-driver': {
      const m = DRIVER_RE.exec(t);
      if (!m) return null;
      const parts = [Number(m[1]), Number(m[2]), m[3] === undefined ? 0 : Number(m[3])];
      return { scheme, text: t, major: parts[0] ?? 0, parts };
    }
    case 'dotted': {
      if (!DOTTED_RE.test(t)) return null;
      const parts = t.split('.').map(Number);
      return { scheme, text: t, major: parts[0] ?? 0, parts };
    }
    case 'debian':
      return parseDebian(t);
  }
}

function parseDebian(t: string): ParsedVersion | null {
  if (t.length === 0 || t.length > 256) return null;
  let rest = t;
  let epoch = 0;
  const colon = rest.indexOf(':');
  if (colon !== -1) {
    const e = rest.slice(0, colon);
    if (!DEB_EPOCH_RE.test(e)) return null;
    epoch = Number(e);
    rest = rest.slice(colon + 1);
  }
  let revision = '';
  const hyphen = rest.lastIndexOf('-');
  if (hyphen !== -1) {
    revision = rest.slice(hyphen + 1);
    rest = rest.slice(0, hyphen);
    if (!DEB_REVISION_RE.test(revision)) return null;
  }
  if (!DEB_UPSTREAM_RE.test(rest)) return null;
  const major = Number(LEADING_DIGITS_RE.exec(rest)?.[0] ?? '0');
  return { scheme: 'debian', text: t, major, epoch, upstream: rest, revision };
}

/** Negative, zero or positive like a sort comparator. Both must be of the same scheme. */
export function compareParsed(a: ParsedVersion, b: ParsedVersion): number {
  if (a.scheme === 'debian' || b.scheme === 'debian') {
    if (a.scheme !== 'debian' || b.scheme !== 'debian')
      throw new TypeError('cannot compare versions of different schemes');
    if (a.epoch !== b.epoch) return a.epoch - b.epoch;
    return sign(verrevcmp(a.upstream, b.upstream)) || sign(verrevcmp(a.revision, b.revision));
  }
  if (a.scheme !== b.scheme) throw new TypeError('cannot compare versions of different schemes');
  // Missing parts are zero: CUDA 12.6 == 12.6.0.
  const n = Math.max(a.parts.length, b.parts.length);
  for (let i = 0; i < n; i++) {
    const d = (a.parts[i] ?? 0) - (b.parts[i] ?? 0);
    if (d !== 0) return sign(d);
  }
  return 0;
}

/** null when either side does not parse under the scheme. */
export function compareVersions(a: string, b: string, scheme: VersionScheme): number | null {
  const pa = parseVersion(a, scheme);
  const pb = parseVersion(b, scheme);
  if (!pa || !pb) return null;
  return compareParsed(pa, pb);
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

const CODE_0 = 48;
const CODE_9 = 57;
const CODE_TILDE = 126;

function isDigitAt(s: string, i: number): boolean {
  const c = s.charCodeAt(i); // NaN past the end
  return c >= CODE_0 && c <= CODE_9;
}

function isAlphaCode(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

// dpkg's order(): ~ sorts before everything (even the end of the string), letters before other symbols.
function order(s: string, i: number): number {
  if (i >= s.length) return 0;
  const c = s.charCodeAt(i);
  if (c >= CODE_0 && c <= CODE_9) return 0;
  if (isAlphaCode(c)) return c;
  if (c === CODE_TILDE) return -1;
  return c + 256;
}

/** dpkg's verrevcmp (lib/dpkg/version.c), transliterated. */
export function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigitAt(a, i)) || (j < b.length && !isDigitAt(b, j))) {
      const ac = order(a, i);
      const bc = order(b, j);
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a.charCodeAt(i) === CODE_0) i++;
    while (b.charCodeAt(j) === CODE_0) j++;
    while (isDigitAt(a, i) && isDigitAt(b, j)) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigitAt(a, i)) return 1;
    if (isDigitAt(b, j)) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}
