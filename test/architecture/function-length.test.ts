// No production function grows past ~80 lines (the aim; 95 is where this test stops it): a long function is
// where a second decision hides. Functions
// are found with the TypeScript parser (declarations, methods, arrows, function expressions — nested ones
// count on their own), in every module of the layers.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const LAYERS = ['cli', 'agent', 'aggregator', 'spec', 'report'];
const MAX_LINES = 95;

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return modules(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** `lines name (file:line)` of every function longer than `max` lines in this source. */
function longFunctions(file: string, source: string, max: number): string[] {
  const src = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const first = src.getLineAndCharacterOfPosition(node.getStart(src)).line;
      const last = src.getLineAndCharacterOfPosition(node.end).line;
      const lines = last - first + 1;
      const name = node.name?.getText(src) ?? '(anonymous)';
      if (lines > max) out.push(`${lines} lines: ${name} (${file}:${first + 1})`);
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
  return out;
}

describe('function length', () => {
  it('the check finds a long function (it can fail)', () => {
    const body = Array.from({ length: MAX_LINES }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const source = `export function long() {\n${body}\n}\nconst short = () => 1;\n`;
    expect(longFunctions('x.ts', source, MAX_LINES)).toEqual([`${MAX_LINES + 2} lines: long (x.ts:1)`]);
  });

  it(`no production function is over ${MAX_LINES} lines`, () => {
    const files = LAYERS.flatMap((layer) => modules(join(ROOT, layer)));
    expect(files.length).toBeGreaterThan(50);
    const long = files.flatMap((f) => longFunctions(relative(ROOT, f), readFileSync(f, 'utf8'), MAX_LINES));
    expect(long).toEqual([]);
  });
});
