// Two properties of the import graph, read from the source files (no build needed).
// 1. The agent runs on every node, so what its command modules load at start-up is memory every node pays:
//    the STATIC graph from the agent's entry modules reaches no heavy package. `import type` is erased by
//    TypeScript and dynamic `await import(...)` loads lazily, so neither counts there.
// 2. Layers point one way: `cli → agent | aggregator → spec → report`, with `aggregator/k8s/` a leaf. Here
//    every dependency counts (type-only and dynamic imports too): a wrong-way import fails the build.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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

  // An ESM import of node:http builds its namespace, which reads Node 24's lazy WebSocket getters and
  // loads undici (~10 MiB resident): the agent takes node:http through getBuiltinModule (agent/node-http.ts).
  it('imports node:http only through getBuiltinModule (no undici)', () => {
    expect(graph.packages.get('node:http')).toBeUndefined();
  });

  it('walks the real graph (collect.ts reached, report/schema.ts not)', () => {
    expect(graph.modules.has(entry)).toBe(true);
    expect(graph.modules.has('agent/collect.ts')).toBe(true);
    expect(graph.modules.has('report/schema.ts')).toBe(false);
  });
});

// ---- layers ----

/** Every dependency a module names: static, type-only, re-exports, dynamic `import()` and `import('m').T`. */
const ANY_IMPORT =
  /^\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

function allImports(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '');
  return [...code.matchAll(ANY_IMPORT)].map((m) => m[1] ?? m[2] ?? '');
}

/** Production code: the folders that ship (tests, benches and scripts are not layered). */
const PRODUCTION_DIRS = ['agent', 'aggregator', 'cli', 'report', 'spec'] as const;

function productionModules(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...productionModules(rel));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** Module → the project modules it imports (paths relative to the repository root). */
type ModuleGraph = ReadonlyMap<string, readonly string[]>;

function projectGraph(): ModuleGraph {
  const graph = new Map<string, string[]>();
  for (const rel of PRODUCTION_DIRS.flatMap((d) => productionModules(d))) {
    const file = join(ROOT, rel);
    const targets: string[] = [];
    for (const spec of allImports(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (!existsSync(target)) throw new Error(`${rel}: cannot resolve ${spec}`);
      targets.push(relative(ROOT, target).split('\\').join('/'));
    }
    graph.set(rel, targets);
  }
  return graph;
}

const under = (path: string, folder: string) => path.startsWith(folder);

interface LayerRule {
  name: string;
  /** True when an import from `from` to `to` breaks the rule. */
  broken(from: string, to: string): boolean;
}

const K8S = 'aggregator/k8s/';
const CONTRACTS = 'aggregator/contracts.ts';

const LAYER_RULES: readonly LayerRule[] = [
  {
    name: 'agent/ never imports aggregator/',
    broken: (from, to) => under(from, 'agent/') && under(to, 'aggregator/'),
  },
  {
    name: 'aggregator/ never imports agent/',
    broken: (from, to) => under(from, 'aggregator/') && under(to, 'agent/'),
  },
  {
    name: 'spec/ imports only spec/ and report/',
    broken: (from, to) => under(from, 'spec/') && !under(to, 'spec/') && !under(to, 'report/'),
  },
  {
    name: 'report/ imports only report/',
    broken: (from, to) => under(from, 'report/') && !under(to, 'report/'),
  },
  {
    name: `${K8S} is a leaf: it imports only ${K8S}, report/ and ${CONTRACTS}`,
    broken: (from, to) => under(from, K8S) && !under(to, K8S) && !under(to, 'report/') && to !== CONTRACTS,
  },
  {
    // What k8s/ may import must not bring the rest of the aggregator in with it.
    name: `${CONTRACTS} imports only report/`,
    broken: (from, to) => from === CONTRACTS && !under(to, 'report/'),
  },
  {
    name: `aggregator/reconcile/ imports from aggregator/ only reconcile/, ${K8S} and ${CONTRACTS}`,
    broken: (from, to) =>
      under(from, 'aggregator/reconcile/') &&
      !under(to, 'aggregator/reconcile/') &&
      !under(to, K8S) &&
      to !== CONTRACTS &&
      under(to, 'aggregator/'),
  },
  {
    name: 'cli/ is imported by nobody',
    broken: (from, to) => !under(from, 'cli/') && under(to, 'cli/'),
  },
];

/**
 * Modules allowed to break a rule, with why. Each must exist and hold nothing but re-exports, so an entry
 * outlives neither its file nor its purpose.
 */
function layerViolations(graph: ModuleGraph): string[] {
  const out: string[] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      for (const rule of LAYER_RULES) if (rule.broken(from, to)) out.push(`${from} → ${to}: ${rule.name}`);
    }
  }
  return out;
}

/** Whether `to` is reachable from `from` (bounded by the graph's size). */
function reaches(graph: ModuleGraph, from: string, to: string): boolean {
  const seen = new Set<string>();
  const queue = [...(graph.get(from) ?? [])];
  for (let steps = 0; queue.length > 0 && steps <= graph.size * 50; steps++) {
    const next = queue.shift() as string;
    if (next === to) return true;
    if (seen.has(next)) continue;
    seen.add(next);
    queue.push(...(graph.get(next) ?? []));
  }
  return false;
}

/** Pairs of modules that must not import each other, directly or through others. */
const NO_CYCLE: ReadonlyArray<readonly [string, string]> = [['agent/host.ts', 'agent/probes/probe.ts']];

function cycles(graph: ModuleGraph): string[] {
  return NO_CYCLE.filter(([a, b]) => reaches(graph, a, b) && reaches(graph, b, a)).map(
    ([a, b]) => `${a} ↔ ${b}`,
  );
}

describe('layer rules (self-test: each rule can fail)', () => {
  const wrongWay: Array<[string, string, string]> = [
    ['agent/collect.ts', 'aggregator/store.ts', 'agent/ never imports aggregator/'],
    ['aggregator/store.ts', 'agent/collect.ts', 'aggregator/ never imports agent/'],
    ['spec/evaluate.ts', 'aggregator/contracts.ts', 'spec/ imports only'],
    ['spec/role.ts', 'agent/host.ts', 'spec/ imports only'],
    ['report/schema.ts', 'spec/api.ts', 'report/ imports only'],
    ['aggregator/k8s/informer.ts', 'aggregator/reconcile/desired.ts', 'is a leaf'],
    ['aggregator/k8s/informer.ts', 'aggregator/store.ts', 'is a leaf'],
    ['aggregator/k8s/informer.ts', 'aggregator/server/app.ts', 'is a leaf'],
    ['aggregator/k8s/informer.ts', 'spec/role.ts', 'is a leaf'],
    ['aggregator/contracts.ts', 'aggregator/store.ts', 'contracts.ts imports only report/'],
    [
      'aggregator/reconcile/reconciler.ts',
      'aggregator/store.ts',
      'aggregator/reconcile/ imports from aggregator/ only',
    ],
    [
      'aggregator/reconcile/desired.ts',
      'aggregator/server/app.ts',
      'aggregator/reconcile/ imports from aggregator/ only',
    ],
    ['agent/check-command.ts', 'cli/main.ts', 'cli/ is imported by nobody'],
  ];
  it.each(wrongWay)('%s → %s breaks "%s"', (from, to, rule) => {
    const found = layerViolations(new Map([[from, [to]]]));
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(rule);
  });

  it('the right way breaks nothing', () => {
    const graph = new Map<string, string[]>([
      ['cli/main.ts', ['agent/check-command.ts', 'aggregator/aggregator-command.ts', 'report/version.ts']],
      ['agent/check-command.ts', ['spec/role.ts', 'report/schema.ts']],
      ['aggregator/k8s/informer.ts', ['aggregator/k8s/node-view.ts', CONTRACTS, 'report/error-message.ts']],
      ['aggregator/reconcile/reconciler.ts', ['aggregator/k8s/names.ts', CONTRACTS, 'spec/role.ts']],
      ['aggregator/kubernetes-integration.ts', ['aggregator/reconcile/reconciler.ts', 'aggregator/store.ts']],
      ['spec/role.ts', ['report/constants.ts']],
      [CONTRACTS, ['report/schema.ts']],
    ]);
    expect(layerViolations(graph)).toEqual([]);
  });

  it('the cycle check finds indirect cycles', () => {
    const cyclic = new Map([
      ['agent/host.ts', ['agent/probes/support.ts']],
      ['agent/probes/support.ts', ['agent/probes/probe.ts']],
      ['agent/probes/probe.ts', ['agent/host.ts']],
    ]);
    expect(cycles(cyclic)).toEqual(['agent/host.ts ↔ agent/probes/probe.ts']);
    expect(cycles(new Map([['agent/host.ts', ['agent/probes/probe.ts']]]))).toEqual([]);
  });

  it('reads type-only, dynamic and import-type dependencies', () => {
    const src = [
      "import type { A } from './a.js';",
      "export type { B } from './b.js';",
      "const m = await import('./c.js');",
      "type D = import('./d.js').D;",
      "import { e } from './e.js';",
    ].join('\n');
    expect(allImports(src)).toEqual(['./a.js', './b.js', './c.js', './d.js', './e.js']);
  });
});

describe('the production import graph', () => {
  const graph = projectGraph();

  it('is the real one (type-only and dynamic imports are edges)', () => {
    expect(graph.get('cli/main.ts')).toContain('agent/check-command.ts');
    expect(graph.get(CONTRACTS)).toContain('report/schema.ts');
    expect(graph.get('aggregator/reconcile/reconciler.ts')).toContain('aggregator/k8s/rate-limit.ts');
    expect(graph.size).toBeGreaterThan(50);
  });

  it('points one way: no import breaks a layer rule', () => {
    expect(layerViolations(graph)).toEqual([]);
  });

  it('has no cycle between agent/host.ts and agent/probes/probe.ts', () => {
    expect(cycles(graph)).toEqual([]);
  });
});
