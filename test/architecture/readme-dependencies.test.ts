// README's "Dependencies" table names exactly the runtime dependencies of package.json.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

describe("README's Dependencies", () => {
  it('has a row for every runtime dependency, and none for a package that is not one', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf('\n## Dependencies\n');
    expect(start).toBeGreaterThan(0);
    const section = readme.slice(start + 1, readme.indexOf('\n## ', start + 1));
    const named = [...section.matchAll(/^\| ([^|]+) \|/gm)]
      .map((m) => m[1] as string)
      .filter((cell) => cell.trim() !== 'package' && !/^-+$/.test(cell.trim()))
      .flatMap((cell) => [...cell.matchAll(/`([^`]+)`/g)].map((n) => n[1] as string));
    expect(named.sort()).toEqual(Object.keys(pkg.dependencies).sort());
  });
});
