// There is no container engine here, so the Dockerfile is checked by reading it: every COPY source exists
// in the build context (and is not ignored), copies from the build stage name what `npm run build`
// produces, everything tsconfig.build.json compiles for the runtime is copied, and the ENTRYPOINT is the
// package's bin.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
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
};

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
    expect(runs.some((r) => r.startsWith('npm ci'))).toBe(true);
    expect(runs.some((r) => r.includes('npm run build') && r.includes('npm prune --omit=dev'))).toBe(true);
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
