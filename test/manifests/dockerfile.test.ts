// The test suite needs no container engine, so the Dockerfile is checked by reading it (scripts/image-smoke.sh
// builds and runs the image where there is one): every COPY source exists
// in the build context (and is not ignored), the build runs package.json's build script's steps with the
// image's own Node (no `npm run`: the `node` dev dependency would shadow it) after an `npm ci
// --ignore-scripts` that loses nothing the build or runtime needs, copies from the build stage name what
// the build produces, everything tsconfig.build.json compiles for the runtime is copied, and the
// ENTRYPOINT is the package's bin.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

interface Instruction {
  op: string;
  args: string;
}

function instructions(text: string): Instruction[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  return joined
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [op = '', ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

interface Stage {
  from: string;
  name: string | undefined;
  steps: Instruction[];
}

function stages(all: Instruction[]): Stage[] {
  const out: Stage[] = [];
  for (const ins of all) {
    if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      out.push({ from: m?.[1] ?? '', name: m?.[2], steps: [] });
    } else out.at(-1)?.steps.push(ins);
  }
  return out;
}

function copyOf(ins: Instruction): { from: string | undefined; sources: string[]; dest: string } {
  const words = ins.args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1) ?? '' };
}

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const all = stages(instructions(dockerfile));
const [build, runtime] = all;
const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  version: string;
  license: string;
  scripts: Record<string, string>;
  devDependencies: Record<string, string>;
};

/**
 * package.json's build script as the image must run it: each step's command a plain `node FILE`, a
 * package bin (e.g. `tsc`) resolved to `node node_modules/PKG/BIN` so no node_modules/.bin is involved.
 */
function buildStepsForImage(): string[] {
  return (pkg.scripts['build'] ?? '').split(' && ').map((step) => {
    const [cmd = '', ...rest] = step.trim().split(/\s+/);
    if (cmd === 'node') return step.trim();
    const owner = Object.keys(pkg.devDependencies).find((dep) => {
      const bins = (
        JSON.parse(readFileSync(join(ROOT, 'node_modules', dep, 'package.json'), 'utf8')) as {
          bin?: string | Record<string, string>;
        }
      ).bin;
      return typeof bins === 'object' && bins[cmd] !== undefined;
    });
    expect(owner, `the package providing ${cmd}`).toBeDefined();
    const bin = (
      JSON.parse(readFileSync(join(ROOT, 'node_modules', owner ?? '', 'package.json'), 'utf8')) as {
        bin: Record<string, string>;
      }
    ).bin[cmd];
    return ['node', `node_modules/${owner}/${String(bin).replace(/^\.\//, '')}`, ...rest].join(' ');
  });
}

function nonEmpty(path: string): boolean {
  if (!existsSync(path)) return false;
  return !statSync(path).isDirectory() || readdirSync(path).length > 0;
}

describe('Dockerfile', () => {
  it('has a node:24-bookworm-slim build stage and runtime stage', () => {
    expect(all).toHaveLength(2);
    expect(build?.from).toBe('node:24-bookworm-slim');
    expect(build?.name).toBe('build');
    expect(runtime?.from).toBe('node:24-bookworm-slim');
    const runs = (build?.steps ?? []).filter((s) => s.op === 'RUN').map((s) => s.args);
    expect(runs.some((r) => r.startsWith('npm ci --ignore-scripts'))).toBe(true);
    const buildRun = runs.find((r) => r.includes('npm prune --omit=dev'));
    expect(buildRun).toBeDefined();
    const steps = (buildRun ?? '').split('&&').map((x) => x.trim().replace(/\s+/g, ' '));
    expect(steps.at(-1)).toMatch(/^npm prune --omit=dev --ignore-scripts\b/);
    // The same steps as package.json's build script, in order, run by the image's own node.
    expect(steps.slice(0, -1)).toEqual(buildStepsForImage());
  });

  it("the runtime node_modules lose only what Node never reads, and keep every package's license", () => {
    const steps = build?.steps ?? [];
    const prune = steps.findIndex((s) => s.op === 'RUN' && s.args.includes('npm prune --omit=dev'));
    const trim = steps.findIndex((s) => s.op === 'RUN' && s.args.startsWith('find node_modules'));
    expect(trim, 'a RUN trimming node_modules').toBeGreaterThan(prune);
    const dir = mkdtempSync(join(tmpdir(), 'onv-trim-'));
    const files: Record<string, boolean> = {
      // path: kept?
      'node_modules/a/package.json': true,
      'node_modules/a/index.js': true,
      'node_modules/a/lib/test.js': true,
      'node_modules/a/lib/test/helper.js': true,
      'node_modules/a/LICENSE': true,
      'node_modules/a/LICENSE.md': true,
      'node_modules/a/licence.txt': true,
      'node_modules/a/NOTICE.md': true,
      'node_modules/a/data.json': true,
      'node_modules/a/README.md': false,
      'node_modules/a/CHANGELOG.md': false,
      'node_modules/a/index.d.ts': false,
      'node_modules/a/index.d.mts': false,
      'node_modules/a/src/index.ts': false,
      'node_modules/a/index.js.map': false,
      'node_modules/a/test/a.test.js': false,
      'node_modules/@s/b/package.json': true,
      'node_modules/@s/b/__tests__/b.js': false,
      'node_modules/@s/b/prebuilds/linux-x64/b.bare': false,
      'node_modules/@s/b/prebuilds/linux-x64/b.node': true,
      'node_modules/a/node_modules/c/package.json': true,
      'node_modules/a/node_modules/c/tests/c.js': false,
    };
    try {
      for (const f of Object.keys(files)) {
        mkdirSync(dirname(join(dir, f)), { recursive: true });
        writeFileSync(join(dir, f), 'x');
      }
      execFileSync('sh', ['-c', steps[trim]?.args ?? 'false'], { cwd: dir });
      for (const [f, kept] of Object.entries(files)) expect(existsSync(join(dir, f)), f).toBe(kept);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never runs `npm run`/`npx` in the build: node_modules/.bin would put the `node` dev dependency first', () => {
    const runs = all.flatMap((st) => st.steps.filter((s) => s.op === 'RUN').map((s) => s.args));
    for (const r of runs) expect(r, r).not.toMatch(/\bnpm run\b|\bnpx\b|\bnpm exec\b/);
  });

  it('--ignore-scripts loses nothing: only dev dependencies of the lockfile have install scripts', () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { hasInstallScript?: boolean; dev?: boolean }>;
    };
    const withScripts = Object.entries(lock.packages).filter(([, p]) => p.hasInstallScript === true);
    for (const [name, p] of withScripts) expect(p.dev, `${name} has an install script`).toBe(true);
    // The build itself uses none of them (tsc and a node script).
    const scripted = new Set(withScripts.map(([name]) => name.replace(/^.*node_modules\//, '')));
    for (const step of buildStepsForImage()) {
      const file = step.split(' ')[1] ?? '';
      const owner = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1];
      if (owner) expect(scripted.has(owner), owner).toBe(false);
    }
  });

  it('copies into the build stage only files that exist in the context and are not ignored', () => {
    const copies = (build?.steps ?? []).filter((s) => s.op === 'COPY').map(copyOf);
    expect(copies.length).toBeGreaterThan(0);
    for (const c of copies) {
      expect(c.from).toBeUndefined();
      for (const src of c.sources) {
        expect(nonEmpty(join(ROOT, src)), `${src} exists in the build context`).toBe(true);
        expect(ignored.includes(src.replace(/\/$/, '')), `${src} is not in .dockerignore`).toBe(false);
      }
    }
    // The build needs everything tsconfig.build.json compiles for the runtime, and its asset script.
    const tsb = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
    const copied = new Set(copies.flatMap((c) => c.sources));
    for (const dir of tsb.include.filter((d) => d !== 'bench')) expect(copied.has(dir), dir).toBe(true);
    for (const f of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'scripts',
    ]) {
      expect(copied.has(f), f).toBe(true);
    }
  });

  it('the runtime stage takes dist/, production node_modules and package.json from the build stage', () => {
    const copies = (runtime?.steps ?? []).filter((s) => s.op === 'COPY').map(copyOf);
    const sources = copies.map((c) => {
      expect(c.from).toBe('build');
      return c.sources.join(' ');
    });
    expect(sources.sort()).toEqual(['/app/dist', '/app/node_modules', '/app/package.json']);
    const tsb = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as {
      compilerOptions: { outDir: string };
    };
    expect(tsb.compilerOptions.outDir).toBe('dist');
  });

  it("runs as 10001 and its ENTRYPOINT is the package's bin", () => {
    const steps = runtime?.steps ?? [];
    const workdir = steps.filter((s) => s.op === 'WORKDIR').at(-1)?.args;
    expect(workdir).toBe('/app');
    expect(steps.find((s) => s.op === 'USER')?.args).toMatch(/^10001(:10001)?$/);
    const entry = JSON.parse(steps.find((s) => s.op === 'ENTRYPOINT')?.args ?? '[]') as string[];
    expect(entry[0]).toBe('node');
    expect(entry[1]).toBe(`${workdir}/${pkg.bin['osmo-node-validator']}`);
    expect(
      existsSync(
        join(ROOT, pkg.bin['osmo-node-validator']?.replace(/^dist\//, '').replace(/\.js$/, '.ts') ?? ''),
      ),
    ).toBe(true);
  });

  it('carries OCI labels for source, version and license, matching package.json', () => {
    expect(dockerfile).toContain('org.opencontainers.image.source=');
    expect(dockerfile).toContain(`ARG VERSION=${pkg.version}`);
    expect(dockerfile).toContain(['org.opencontainers.image.version="$', '{VERSION}"'].join(''));
    expect(dockerfile).toContain(`org.opencontainers.image.licenses="${pkg.license}"`);
  });

  it('the image placeholder in the manifests carries the package version', () => {
    const base = readFileSync(join(ROOT, 'manifests', 'base', 'kustomization.yaml'), 'utf8');
    expect(base).toContain(`newTag: ${pkg.version}`);
  });
});
