// The package version, for the agent's reports and `--version`. Found by walking up from this module,
// which sits at report/ in a checkout and at dist/report/ in a build.
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached) return cached;
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'osmo-node-validator' && pkg.version) {
        cached = pkg.version;
        return cached;
      }
    } catch {
      // not at this level; try the next one up
    }
  }
  return '0.0.0-unknown';
}
