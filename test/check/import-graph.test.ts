// The agent runs on every node, so what its command modules load at start-up is memory every node pays.
// This walks the STATIC import graph from the agent's entry modules by reading the source files (no build
// needed) and asserts that no heavy package is reached. `import type` is erased by TypeScript and
// dynamic `await import(...)` loads lazily, so neither counts.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const FORBIDDEN = [
  '@sinclair/typebox',
  'fastify',
  'pino',
  '@kubernetes/client-node',
  'execa',
  'systeminformation',
  'ajv',
] as const;

// `import x from 'm'`, `import { a, type B } from 'm'`, `import * as n from 'm'`, `export { a } from 'm'`,
// `export * from 'm'` and side-effect `import 'm'`; the clause may span lines. `import type` /
// `export type` are excluded. (`import { type A } from 'm'` stays: verbatimModuleSyntax keeps it as a load.)
const STATIC_IMPORT = /^\s*(?:import|export)\s+(?!type[\s{*])(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm;

/** The specifiers a module loads statically. */
function staticImports(source: string): string[] {
  // Block comments could hold example code; line comments never start a line with `import` here.
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '');
  return [...code.matchAll(STATIC_IMPORT)].map((m) => m[1] ?? '');
}

/** The package a bare specifier names: `@scope/name` or `name` (subpaths stripped). */
function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? spec);
}

interface Graph {
  /** Project modules reached, relative to the repository root. */
  modules: Set<string>;
  /** Package (or node: builtin) → the first project module that imports it. */
  packages: Map<string, string>;
}

function walk(entries: readonly string[]): Graph {
  const modules = new Set<string>();
  const packages = new Map<string, string>();
  const queue = entries.map((e) => join(ROOT, e));
  // Bounded: each file is visited once and the repository is finite; the cap guards against a resolver bug.
  for (let steps = 0; queue.length > 0 && steps < 5000; steps++) {
    const file = queue.shift() as string;
    const rel = relative(ROOT, file);
    if (modules.has(rel)) continue;
    modules.add(rel);
    for (const spec of staticImports(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
        if (!existsSync(target)) throw new Error(`${rel}: cannot resolve ${spec}`);
        queue.push(target);
      } else {
        const pkg = spec.startsWith('node:') ? spec : packageName(spec);
        if (!packages.has(pkg)) packages.set(pkg, rel);
      }
    }
  }
  return { modules, packages };
}

describe('static import parsing', () => {
  it('counts value imports and re-exports, not type-only or dynamic imports', () => {
    const src = [
      "import { a } from './a.js';",
      "import type { B } from 'typeonly';",
      "import {\n  c,\n  type D,\n} from '@scope/pkg/sub';",
      "import * as ns from 'ns';",
      "import 'side-effect';",
      "export { e } from './e.js';",
      "export type { F } from 'typeexport';",
      "const y = await import('lazy');",
      '/* import { z } from "commented"; */',
      "  import def, { g } from 'indented';",
    ].join('\n');
    expect(staticImports(src)).toEqual([
      './a.js',
      '@scope/pkg/sub',
      'ns',
      'side-effect',
      './e.js',
      'indented',
    ]);
  });

  it('the walker does find typebox from report/schema.ts (the assertion below can fail)', () => {
    const g = walk(['report/schema.ts']);
    expect(g.packages.has('@sinclair/typebox')).toBe(true);
  });
});

describe.each([['agent/check-command.ts'], ['agent/agent-command.ts']])('%s', (entry) => {
  const graph = walk([entry]);

  it('reaches no heavy package statically', () => {
    const reached = FORBIDDEN.filter((p) => graph.packages.has(p)).map(
      (p) => `${p} (imported by ${graph.packages.get(p)})`,
    );
    expect(reached).toEqual([]);
  });

  it('walks the real graph (collect.ts reached, report/schema.ts not)', () => {
    expect(graph.modules.has(entry)).toBe(true);
    expect(graph.modules.has('agent/collect.ts')).toBe(true);
    expect(graph.modules.has('report/schema.ts')).toBe(false);
  });
});
