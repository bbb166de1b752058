// Runs in its own process: times probe cycles of the BUILT collector (dist/agent/collect.js, what the
// CLI runs) on a fixture host against spawning the very commands a cycle runs, directly, in the same
// process and the same run (interleaved repetitions). Prints one JSON document on stdout.
//   node --import tsx bench/agent/cycle-worker.ts HOST_ROOT CYCLES REPS
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as CollectModule from '../../agent/collect.js';
import type * as HostModule from '../../agent/host.js';
import { cpuOf, ROOT } from '../lib/proc.js';
import { median } from '../lib/stats.js';

interface Command {
  file: string;
  args: string[];
}

export interface CycleWorkerResult {
  commands: string[];
  cycles: number;
  reps: number;
  /** Medians over repetitions of the per-cycle mean, in ms. */
  cycleWallMs: number;
  cycleCpuMs: number;
  cycleSelfCpuMs: number;
  directConcurrentWallMs: number;
  directSequentialWallMs: number;
  directCpuMs: number;
  perRep: Array<{ cycleWallMs: number; cycleCpuMs: number; directWallMs: number; directCpuMs: number }>;
  probeErrors: string[];
}

const [hostRoot, cyclesText, repsText] = process.argv.slice(2);
if (hostRoot === undefined) throw new Error('usage: cycle-worker.ts HOST_ROOT CYCLES REPS');
const cycles = Number(cyclesText ?? '20');
const reps = Number(repsText ?? '1');

const dist = (p: string) => pathToFileURL(path.join(ROOT, 'dist', p)).href;
const { collectFacts } = (await import(dist('agent/collect.js'))) as typeof CollectModule;
const { createHostContext } = (await import(dist('agent/host.js'))) as typeof HostModule;

// Same as the CLI in local mode: fixture commands first, then this machine's PATH.
const host = createHostContext({ root: hostRoot, execMode: 'local' });
const options = { registries: null, registryTimeoutMs: 5000 };

// Discover the commands one cycle runs, resolved as the host context resolves them.
const seen: Array<{ command: string; args: string[] }> = [];
const recording: HostModule.HostContext = {
  ...host,
  exec: (command, args, opts) => {
    seen.push({ command, args });
    return host.exec(command, args, opts);
  },
};
const first = await collectFacts(recording, options);
const commands: Command[] = [];
for (const { command, args } of seen) {
  const file = await host.which(command);
  if (file !== null) commands.push({ file, args });
}

function runDirect(cmd: Command): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd.file, cmd.args, {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', () => {});
    child.on('error', reject);
    child.on('close', () => {
      Buffer.concat(out).toString('utf8');
      resolve();
    });
  });
}

const cpuNowMs = () => {
  const c = cpuOf('self');
  return c === null ? { self: 0, children: 0 } : { self: c.selfS * 1000, children: c.childrenS * 1000 };
};
const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function timeMany(
  fn: () => Promise<unknown>,
): Promise<{ wallMs: number; cpuMs: number; selfMs: number }> {
  const c0 = cpuNowMs();
  const s0 = selfCpuMs();
  const t0 = performance.now();
  for (let i = 0; i < cycles; i++) await fn();
  const wall = performance.now() - t0;
  const s1 = selfCpuMs();
  const c1 = cpuNowMs();
  return {
    wallMs: wall / cycles,
    // Own CPU from cpuUsage (µs resolution) plus children's from /proc (10 ms ticks, summed over cycles).
    cpuMs: (s1 - s0 + (c1.children - c0.children)) / cycles,
    selfMs: (s1 - s0) / cycles,
  };
}

// Warm-up (JIT, file cache) for both sides.
for (let i = 0; i < 3; i++) {
  await collectFacts(host, options);
  await Promise.all(commands.map(runDirect));
}

const perRep: CycleWorkerResult['perRep'] = [];
const selfs: number[] = [];
const sequential: number[] = [];
for (let r = 0; r < reps; r++) {
  const cycle = await timeMany(() => collectFacts(host, options));
  const direct = await timeMany(() => Promise.all(commands.map(runDirect)));
  const seq = await timeMany(async () => {
    for (const c of commands) await runDirect(c);
  });
  perRep.push({
    cycleWallMs: cycle.wallMs,
    cycleCpuMs: cycle.cpuMs,
    directWallMs: direct.wallMs,
    directCpuMs: direct.cpuMs,
  });
  selfs.push(cycle.selfMs);
  sequential.push(seq.wallMs);
}

const result: CycleWorkerResult = {
  commands: commands.map((c) => `${path.relative(hostRoot, c.file)} ${c.args.join(' ')}`.trim()),
  cycles,
  reps,
  cycleWallMs: median(perRep.map((p) => p.cycleWallMs)),
  cycleCpuMs: median(perRep.map((p) => p.cycleCpuMs)),
  cycleSelfCpuMs: median(selfs),
  directConcurrentWallMs: median(perRep.map((p) => p.directWallMs)),
  directSequentialWallMs: median(sequential),
  directCpuMs: median(perRep.map((p) => p.directCpuMs)),
  perRep,
  probeErrors: first.probeErrors.map((e) => `${e.probe}: ${e.message}`),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
