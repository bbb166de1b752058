// `version`, `--version` and `<command> --version` print the version, the git revision recorded by the
// build (dist/build-info.json, from scripts/write-build-info.mjs — never git at run time) and Node's
// version. Run on a transpiled copy of the entry point and the modules it imports statically, laid out as
// dist/ is, with and without a build-info.json.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const WRITE_BUILD_INFO = path.join(REPO, 'scripts', 'write-build-info.mjs');
const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
const tmp = mkdtempSync(path.join(tmpdir(), 'onv-version-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** cli/main.ts, cli/require-node.ts and report/version.ts transpiled into `dir`, with package.json. */
async function transpiledTree(dir: string): Promise<string> {
  for (const rel of ['cli/main.ts', 'cli/require-node.ts', 'report/version.ts']) {
    const source = readFileSync(path.join(REPO, rel), 'utf8');
    const js = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    await mkdir(path.join(dir, path.dirname(rel)), { recursive: true });
    writeFileSync(path.join(dir, rel.replace(/\.ts$/, '.js')), js);
  }
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'osmo-node-validator', version: pkg.version, type: 'module' }),
  );
  return path.join(dir, 'cli', 'main.js');
}

function writeBuildInfo(cwd: string, env: Record<string, string> = {}): { status: number; info?: unknown } {
  try {
    execFileSync(process.execPath, [WRITE_BUILD_INFO], {
      cwd,
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: 'ignore',
    });
  } catch (err) {
    return { status: (err as { status?: number }).status ?? 1 };
  }
  return { status: 0, info: JSON.parse(readFileSync(path.join(cwd, 'dist', 'build-info.json'), 'utf8')) };
}

describe('scripts/write-build-info.mjs', () => {
  it('records GIT_REVISION when given (the Dockerfile build argument), and refuses one that is not a commit id', () => {
    const dir = mkdtempSync(path.join(tmp, 'given-'));
    expect(writeBuildInfo(dir, { GIT_REVISION: 'abc1234def' })).toEqual({
      status: 0,
      info: { revision: 'abc1234def' },
    });
    expect(writeBuildInfo(dir, { GIT_REVISION: '$(rm -rf /)' }).status).toBe(2);
  });

  it('records HEAD of a checkout (with -dirty for uncommitted changes), "unknown" outside one', () => {
    const dir = mkdtempSync(path.join(tmp, 'repo-'));
    expect(writeBuildInfo(dir)).toEqual({ status: 0, info: { revision: 'unknown' } });
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
        cwd: dir,
        encoding: 'utf8',
      }).trim();
    git('init', '-q');
    writeFileSync(path.join(dir, 'f'), 'a');
    git('add', 'f');
    git('commit', '-q', '-m', 'one');
    const head = git('rev-parse', 'HEAD');
    expect(writeBuildInfo(dir)).toEqual({ status: 0, info: { revision: head } });
    writeFileSync(path.join(dir, 'f'), 'b');
    expect(writeBuildInfo(dir)).toEqual({ status: 0, info: { revision: `${head}-dirty` } });
  });
});

describe('version output', () => {
  it('version, --version and <command> --version print version, revision and Node.js version', async () => {
    const dir = mkdtempSync(path.join(tmp, 'dist-'));
    const main = await transpiledTree(dir);
    const expected = (revision: string) =>
      `osmo-node-validator ${pkg.version}\nrevision: ${revision}\nnode: ${process.version}\n`;
    expect((await exec(process.execPath, [main, 'version'])).stdout).toBe(expected('unknown'));
    writeFileSync(path.join(dir, 'build-info.json'), JSON.stringify({ revision: '0123456789abcdef' }));
    for (const args of [
      ['version'],
      ['--version'],
      ['check', '--version'],
      ['aggregator', '--listen', 'x', '--version'],
      ['prune', '--version'],
    ]) {
      expect((await exec(process.execPath, [main, ...args])).stdout, args.join(' ')).toBe(
        expected('0123456789abcdef'),
      );
    }
    // After `--` it is an argument, not the flag: the command is loaded (not in this tree: exit 2).
    await expect(exec(process.execPath, [main, 'check', '--', '--version'])).rejects.toMatchObject({
      code: 2,
    });
  });
});
