// containerd's version from `containerd --version`, normalised to the upstream version.
import { LIMITS } from '../../report/limits.js';
import type { ContainerdFacts } from '../../report/schema.js';
import { ProbeFailure } from '../probe-failure.js';
import type { Probe } from './probe.js';
import { boundedString, excerpt, execOptional, firstLine } from './support.js';

/**
 * Known shapes:
 *   containerd containerd.io 1.7.27 <sha>                        (Docker's package)
 *   containerd github.com/containerd/containerd[/v2] v1.7.16 <sha> (upstream builds)
 *   containerd version 0.2.4 commit: <sha>                        (legacy)
 *   containerd 1.6.20~ds1 1.6.20~ds1-1+b1 / containerd 1.6.12-0ubuntu1~22.04.1  (distro builds)
 * The version is the first token after "containerd" that starts with a digit (or v+digit); its upstream
 * part is the leading dotted numbers, without distro suffixes. An upstream pre-release is kept as upstream
 * writes it (`v2.0.0-rc.3` → `2.0.0-rc.3`): the fact is upstream text (CONTRACT); ordering it before the
 * release is the comparison's business (spec/compile.ts), so reports of every agent version compare alike.
 */
export function parseContainerdVersion(output: string): ContainerdFacts {
  const raw =
    output
      .split('\n')
      .find((l) => l.trim().length > 0)
      ?.trim() ?? '';
  const tokens = raw.split(/\s+/);
  if (tokens[0] !== 'containerd')
    throw new ProbeFailure('parse', `unexpected containerd --version output ${excerpt(raw)}`);
  for (const token of tokens.slice(1)) {
    const m = /^v?(\d+\.\d+(?:\.\d+)?)(?:-((?:rc|beta|alpha)\.?\d+))?/.exec(token);
    if (m) {
      const version = m[2] === undefined ? m[1]! : `${m[1]}-${m[2]}`;
      return {
        version: boundedString(version, LIMITS.containerd.version, 'containerd version'),
        raw: boundedString(raw, LIMITS.containerd.raw, 'containerd --version line'),
      };
    }
  }
  throw new ProbeFailure('parse', `no version in containerd --version output ${excerpt(raw)}`);
}

export const containerdProbe: Probe<'containerd', ContainerdFacts | null> = {
  name: 'containerd',
  timeoutMs: 5000,
  async run(host, _options, signal) {
    const r = await execOptional(host, 'containerd', ['--version'], 4000, signal);
    if (r === null) return null;
    if (r.code !== 0)
      throw new ProbeFailure('exec-failed', `containerd --version exited ${r.code}: ${firstLine(r)}`);
    return parseContainerdVersion(r.stdout);
  },
};
