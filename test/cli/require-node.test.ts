// The CLI on a Node.js older than 24 says "needs Node.js 24 or newer" (exit 2) instead of ending in a
// SyntaxError. Run for real on an old Node.js: the entry point and every module it imports statically are
// transpiled into a temporary tree (the command modules, imported lazily, are deliberately left out: the
// old Node.js must stop before it needs them).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MINIMUM_NODE_MAJOR, nodeVersionProblem } from '../../cli/require-node.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));

describe('nodeVersionProblem', () => {
  it('accepts 24 and newer', () => {
    expect(nodeVersionProblem('24.0.0', '/usr/bin/node')).toBeNull();
    expect(nodeVersionProblem('24.21.0', '/usr/bin/node')).toBeNull();
    expect(nodeVersionProblem('25.1.0', '/usr/bin/node')).toBeNull();
  });
  it('names the requirement, the version found and the binary for older ones', () => {
    expect(nodeVersionProblem('20.20.2', '/usr/bin/node')).toBe(
      'osmo-node-validator needs Node.js 24 or newer; this is Node.js 20.20.2 (/usr/bin/node)',
    );
    expect(nodeVersionProblem('23.11.1', '/opt/node')).toMatch(/needs Node\.js 24 or newer/);
  });
  it('an unreadable version is a problem, not a pass', () => {
    expect(nodeVersionProblem('', '/x')).not.toBeNull();
    expect(nodeVersionProblem('v24', '/x')).not.toBeNull();
  });
});

/** Relative modules `file` imports statically (import/export ... from '...', import '...'). */
function staticImports(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest);
  const specifiers: string[] = [];
  for (const statement of source.statements) {
    if (
      (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) &&
      statement.moduleSpecifier !== undefined &&
      ts.isStringLiteral(statement.moduleSpecifier) &&
      !(ts.isImportDeclaration(statement) && statement.importClause?.isTypeOnly)
    ) {
      specifiers.push(statement.moduleSpecifier.text);
    }
  }
  return specifiers.filter((s) => s.startsWith('.'));
}

/** Transpiles cli/main.ts and its static import closure (repository-relative) into `out`; returns the files. */
async function transpileEntry(out: string): Promise<string[]> {
  const done = new Set<string>();
  const todo = ['cli/main.ts'];
  while (todo.length > 0 && done.size < 100) {
    const rel = todo.pop() as string;
    if (done.has(rel)) continue;
    done.add(rel);
    const text = await readFile(path.join(REPO, rel), 'utf8');
    const js = ts.transpileModule(text, {
      compilerOptions: { target: ts.ScriptTarget.ES2024, module: ts.ModuleKind.ESNext },
    }).outputText;
    const target = path.join(out, rel.replace(/\.ts$/, '.js'));
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, js);
    for (const spec of staticImports(rel, text)) {
      todo.push(path.posix.join(path.posix.dirname(rel), spec).replace(/\.js$/, '.ts'));
    }
  }
  return [...done];
}

/** A Node.js older than 24 that is not the project's own: OSMO_TEST_OLD_NODE, else the first on PATH. */
async function findOldNode(): Promise<{ file: string; version: string } | null> {
  const candidates = [
    ...(process.env.OSMO_TEST_OLD_NODE ? [process.env.OSMO_TEST_OLD_NODE] : []),
    ...(process.env.PATH ?? '')
      .split(':')
      .filter((dir) => dir.length > 0 && !dir.includes('node_modules'))
      .map((dir) => path.join(dir, 'node')),
  ];
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    const { stdout } = await run(file, ['--version']);
    const version = stdout.trim().replace(/^v/, '');
    if (Number(version.split('.')[0]) < MINIMUM_NODE_MAJOR) return { file, version };
  }
  return null;
}

describe('the CLI entry point on an old Node.js', () => {
  let out: string;
  let modules: string[];
  beforeAll(async () => {
    out = await mkdtemp(path.join(tmpdir(), 'osmo-require-node-'));
    modules = await transpileEntry(out);
    const pkg = JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
    await writeFile(
      path.join(out, 'package.json'),
      JSON.stringify({ name: 'osmo-node-validator', version: pkg.version, type: 'module' }),
    );
    await symlink(path.join(REPO, 'node_modules'), path.join(out, 'node_modules'));
  });
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('the check runs before any other module: it is main.ts’s first import', () => {
    expect(modules).toContain('cli/require-node.ts');
    expect(modules).not.toContain('agent/check-command.ts'); // commands are loaded lazily
  });

  it('says "needs Node.js 24 or newer" and exits 2, for every command', async () => {
    const old = await findOldNode();
    if (old === null) {
      throw new Error(
        'no Node.js older than 24 found (OSMO_TEST_OLD_NODE, or `node` on PATH outside node_modules/.bin): ' +
          'install one (e.g. the distribution package `nodejs`) or point OSMO_TEST_OLD_NODE at it',
      );
    }
    const binary = await realpath(old.file); // process.execPath, as the old Node.js reports itself
    for (const args of [['check'], ['aggregator'], ['--version']]) {
      const r = await run(old.file, [path.join(out, 'cli/main.js'), ...args]).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => e,
      );
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        `osmo-node-validator needs Node.js 24 or newer; this is Node.js ${old.version} (${binary})\n`,
      );
    }
  });

  it('on Node.js 24+ the same entry point runs normally', async () => {
    const pkg = JSON.parse(await readFile(path.join(out, 'package.json'), 'utf8')) as { version: string };
    const { stdout } = await run(process.execPath, [path.join(out, 'cli/main.js'), '--version']);
    expect(stdout).toBe(`osmo-node-validator ${pkg.version}\nrevision: unknown\nnode: ${process.version}\n`);
  });
});
