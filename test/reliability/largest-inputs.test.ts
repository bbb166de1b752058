// The agent with the DaemonSet's V8 flags (a capped old generation) survives a host where every bounded
// read of a cycle is at its cap at once: `check --json` of the compiled CLI ends with facts and probe
// errors, never a V8 out-of-memory abort. Memory figures for the same host are in BENCHMARKS.md
// ("Agent footprint"), not here.
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_CAPS, writeOversizeHost } from '../helpers/oversize-host.js';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../manifests/expected-args.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SOURCES = ['cli', 'agent', 'spec', 'report'];

/** The agent's code compiled as the build does (without type checking), in `out`, with its assets. */
async function compile(out: string): Promise<void> {
  for (const dir of SOURCES) {
    const files = await readdir(path.join(REPO, dir), { recursive: true });
    for (const rel of files.filter((f) => f.endsWith('.ts') || f.endsWith('.yaml'))) {
      const target = path.join(out, dir, rel.replace(/\.ts$/, '.js'));
      await mkdir(path.dirname(target), { recursive: true });
      if (rel.endsWith('.yaml')) {
        await copyFile(path.join(REPO, dir, rel), target);
        continue;
      }
      const text = await readFile(path.join(REPO, dir, rel), 'utf8');
      const js = ts.transpileModule(text, {
        compilerOptions: { target: ts.ScriptTarget.ES2024, module: ts.ModuleKind.ESNext },
      }).outputText;
      await writeFile(target, js);
    }
  }
  await copyFile(path.join(REPO, 'package.json'), path.join(out, 'package.json'));
  await symlink(path.join(REPO, 'node_modules'), path.join(out, 'node_modules'));
}

function runCheck(cli: string, hostRoot: string) {
  const child = spawn(
    process.execPath,
    [...AGENT_NODE_FLAGS, cli, 'check', '--json', '--host-root', hostRoot, '--registries', 'none'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...AGENT_ENV, NODE_OPTIONS: '' } },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 100_000) stderr += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>(
    (resolve) =>
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      }),
  );
}

describe('the agent under the DaemonSet flags on a host with every input at its cap', () => {
  let dir: string;
  let cli: string;
  let hostRoot: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'osmo-largest-inputs-'));
    await compile(path.join(dir, 'build'));
    cli = path.join(dir, 'build/cli/main.js');
    hostRoot = await writeOversizeHost(dir, AGENT_CAPS);
  }, 120_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the flags cap the old generation (what this test is about)', () => {
    expect(AGENT_NODE_FLAGS.some((f) => /^--max-old-space-size=\d+$/.test(f))).toBe(true);
  });

  it('check ends with its report, no V8 abort', async () => {
    const r = await runCheck(cli, hostRoot);
    expect(r.stderr).not.toMatch(/heap out of memory|FATAL ERROR/);
    expect(r.signal).toBeNull();
    // 0 pass, 1 a check failed (the oversize host fails some): a verdict, not a crash (2 = usage, 3+).
    expect([0, 1]).toContain(r.code);
    const out = JSON.parse(r.stdout) as {
      facts: { gpu: { devices: unknown[] } | null; cpu: { logicalCores: number } | null };
      probeErrors: Array<{ probe: string; kind: string; message: string }>;
    };
    // The largest inputs were read, not skipped: nvidia-smi's XML just under its cap (22 GPUs of ~47 KB
    // each); cpuinfo (~4 MiB) parsed. On a loaded machine a probe may overrun its bound instead: a typed
    // timeout, which is what the agent reports then.
    const failed = new Set(out.probeErrors.map((e) => e.probe));
    if (!failed.has('gpu')) expect(out.facts.gpu?.devices.length).toBeGreaterThan(20);
    if (!failed.has('cpu')) expect(out.facts.cpu).not.toBeNull();
    // Whatever did not fit its bounds is a typed probe error, never an internal one.
    for (const e of out.probeErrors) expect(e.kind).not.toBe('internal');
  }, 90_000);
});
