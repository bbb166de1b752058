// OS identity from the host's etc/os-release (fallback usr/lib/os-release) and the running kernel release.
import { LIMITS } from '../../report/limits.js';
import type { OsFacts } from '../../report/schema.js';
import { ProbeFailure } from '../probe-failure.js';
import type { Probe } from './probe.js';
import { boundedString, excerpt, readOptional } from './support.js';

/** Parses os-release's shell-style KEY=value lines (double/single quotes, backslash escapes). */
export function parseOsReleaseVars(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.length === 0 || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    vars.set(m[1]!, unquote(m[2]!));
  }
  return vars;
}

function unquote(value: string): string {
  let out = '';
  let i = 0;
  while (i < value.length) {
    const c = value[i]!;
    if (c === '"') {
      i++;
      while (i < value.length && value[i] !== '"') {
        if (value[i] === '\\' && i + 1 < value.length && '"\\$`'.includes(value[i + 1]!)) i++;
        out += value[i];
        i++;
      }
      i++;
    } else if (c === "'") {
      i++;
      while (i < value.length && value[i] !== "'") out += value[i++];
      i++;
    } else if (c === '\\' && i + 1 < value.length) {
      out += value[i + 1];
      i += 2;
    } else if (c === '#' || /\s/.test(c)) {
      break; // unquoted whitespace ends the value; the rest is a comment
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

export function parseOsRelease(text: string, kernelRelease: string | null): OsFacts {
  const vars = parseOsReleaseVars(text);
  const id = vars.get('ID');
  if (!id) throw new ProbeFailure('parse', `os-release has no ID: ${excerpt(text)}`);
  return {
    id: boundedString(id, LIMITS.os.id, 'os-release ID'),
    versionId: boundedString(vars.get('VERSION_ID') || null, LIMITS.os.versionId, 'os-release VERSION_ID'),
    prettyName: boundedString(
      vars.get('PRETTY_NAME') || null,
      LIMITS.os.prettyName,
      'os-release PRETTY_NAME',
    ),
    // Listed closest first (os-release(5)): the first ones are those that matter.
    idLike: (vars.get('ID_LIKE') ?? '')
      .split(/\s+/)
      .filter((s) => s.length > 0)
      .slice(0, LIMITS.os.idLikeItems)
      .map((s) => boundedString(s, LIMITS.os.idLike, 'os-release ID_LIKE entry')),
    kernelRelease: boundedString(kernelRelease, LIMITS.os.kernelRelease, 'kernel release'),
  };
}

export const osProbe: Probe<'os', OsFacts> = {
  name: 'os',
  timeoutMs: 2000,
  async run(host) {
    const text =
      (await readOptional(host, '/etc/os-release')) ?? (await readOptional(host, '/usr/lib/os-release'));
    if (text === null)
      throw new ProbeFailure('read', 'neither /etc/os-release nor /usr/lib/os-release exists');
    const kernel = (await readOptional(host, '/proc/sys/kernel/osrelease'))?.trim() || null;
    return parseOsRelease(text, kernel);
  },
};
