// Layers import one way: no module of the agent, the report schema or the spec imports, even through
// others or only for types, a module that imports it back (host.ts and the probes once did).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DIRS = ['agent', 'report', 'spec'];

// Every relative specifier of an import or re-export, type-only ones included; the clause may span lines.
const IMPORT = /^\s*(?:import|export)\s[^'";]*?['"](\.{1,2}\/[^'"]+)['"]/gm;

function modules(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

function importsOf(file: string): string[] {
  const code = readFileSync(join(ROOT, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  return [...code.matchAll(IMPORT)].map((m) =>
    relative(ROOT, resolve(ROOT, dirname(file), (m[1] as string).replace(/\.js$/, '.ts'))),
  );
}

/** One cycle as a path `a → b → a`, or null. Depth-first, each module finished once. */
function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | null {
  const done = new Set<string>();
  const stack: string[] = [];
  const visit = (m: string): string[] | null => {
    const at = stack.indexOf(m);
    if (at !== -1) return [...stack.slice(at), m];
    if (done.has(m)) return null;
    stack.push(m);
    for (const next of graph.get(m) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    done.add(m);
    return null;
  };
  for (const m of graph.keys()) {
    const cycle = visit(m);
    if (cycle) return cycle;
  }
  return null;
}

describe('import cycles', () => {
  it('the finder finds one, and only one that is there', () => {
    expect(
      findCycle(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', ['a']],
        ]),
      ),
    ).toEqual(['a', 'b', 'c', 'a']);
    expect(
      findCycle(
        new Map([
          ['a', ['b', 'c']],
          ['b', ['c']],
          ['c', []],
        ]),
      ),
    ).toBeNull();
  });

  it('agent/, report/ and spec/ have none, type-only imports included', () => {
    const graph = new Map(DIRS.flatMap(modules).map((m) => [m, importsOf(m)] as const));
    expect(graph.get('agent/host.ts')).toContain('agent/probe-failure.ts');
    expect(findCycle(graph)?.join(' → ') ?? null).toBeNull();
  });
});
