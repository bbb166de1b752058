// The package version and the git revision it was built from, for the agent's reports, `version` /
// `--version` and the aggregator's build_info metric. Both are found by walking up from this module, which
// sits at report/ in a checkout and at dist/report/ in a build: package.json for the version, and
// build-info.json, which `npm run build` writes into dist/ (scripts/write-build-info.mjs), for the revision.
import { readFileSync } from 'node:fs';

let cachedVersion: string | undefined;
let cachedRevision: string | undefined;

function readJson(rel: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8'));
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // not at this level
  }
}

export function packageVersion(): string {
  if (cachedVersion) return cachedVersion;
  for (const rel of ['../package.json', '../../package.json']) {
    const pkg = readJson(rel);
    if (pkg?.['name'] === 'osmo-node-validator' && typeof pkg['version'] === 'string' && pkg['version']) {
      cachedVersion = pkg['version'];
      return cachedVersion;
    }
  }
  return '0.0.0-unknown';
}

/**
 * The git revision recorded at build time: dist/build-info.json's `revision`. "unknown" when running from
 * sources (nothing was built) or when the build had no git and no GIT_REVISION.
 */
export function buildRevision(): string {
  if (cachedRevision) return cachedRevision;
  const info = readJson('../build-info.json');
  const revision = info?.['revision'];
  cachedRevision =
    typeof revision === 'string' && /^[0-9a-f]{7,40}(-dirty)?$/.test(revision) ? revision : 'unknown';
  return cachedRevision;
}

/** What `version` and every command's `--version` print: version, git revision, Node.js version. */
export function versionText(): string {
  return [
    `osmo-node-validator ${packageVersion()}`,
    `revision: ${buildRevision()}`,
    `node: ${process.version}`,
    '',
  ].join('\n');
}
