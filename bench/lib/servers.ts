// Server children for the benchmarks (the built aggregator CLI, the bare fastify baseline) and the
// autocannon load generator in its own process.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AGGREGATOR_ENV, AGGREGATOR_NODE_FLAGS } from '../../test/manifests/expected-args.js';
import type { LoadJob, LoadResult } from '../ingest/load-job.js';
import { type Child, CLI, freePort, httpGet, spawnChild, TSX_IMPORT, waitFor } from './proc.js';

export interface ServerChild {
  child: Child;
  url: string;
  stop(): Promise<void>;
}

/** How a child runs: extra V8/Node flags (e.g. `--cpu-prof`), and the CPUs it is pinned to (taskset -c). */
export interface RunOptions {
  nodeFlags?: string[];
  cpus?: string;
  /** Another build's `dist/cli/main.js` (side-by-side comparisons of two builds); default this one's. */
  cli?: string;
  /** Environment over the Deployment's (e.g. other NODE_OPTIONS). */
  env?: NodeJS.ProcessEnv;
  /** The aggregator's command-line V8 flags instead of the Deployment's (AGGREGATOR_NODE_FLAGS). */
  aggregatorFlags?: string[];
}

async function ready(child: Child, url: string, what: string): Promise<ServerChild> {
  try {
    await waitFor(
      `${what} to be ready`,
      async () => {
        if (child.proc.exitCode !== null) throw new Error(`${what} exited: ${child.stderr().slice(-2000)}`);
        return (await httpGet(`${url}/readyz`)).status === 200;
      },
      60_000,
      100,
    );
  } catch (err) {
    await child.stop();
    throw err;
  }
  return {
    child,
    url,
    stop: async () => {
      await child.stop();
    },
  };
}

/**
 * `node dist/cli/main.js aggregator --listen 127.0.0.1:PORT --insecure-http ...args`, once /readyz is 200,
 * with the Deployment's V8 flags and environment (AGGREGATOR_NODE_FLAGS, MALLOC_ARENA_MAX, NODE_OPTIONS:
 * test/manifests/expected-args.ts).
 */
export async function startAggregator(args: string[], run: RunOptions = {}): Promise<ServerChild> {
  const port = await freePort();
  const { cli, aggregatorFlags, ...spawnRun } = run;
  const child = spawnChild(
    [
      ...(aggregatorFlags ?? AGGREGATOR_NODE_FLAGS),
      cli ?? CLI,
      'aggregator',
      '--listen',
      `127.0.0.1:${port}`,
      '--insecure-http',
      '--read-open',
      '--log-level',
      'warn',
      ...args,
    ],
    { keepOutput: true, ...spawnRun, env: { ...AGGREGATOR_ENV, ...run.env } },
  );
  return ready(child, `http://127.0.0.1:${port}`, 'the aggregator');
}

/**
 * The bare fastify route (bench/ingest/bare-server.ts) with the aggregator's environment; `answer` is the
 * aggregator's 202 body for the same report, which the bare route echoes (node and time filled in).
 */
export async function startBareServer(answer: unknown, run: RunOptions = {}): Promise<ServerChild> {
  const port = await freePort();
  const child = spawnChild(
    [...TSX_IMPORT, 'bench/ingest/bare-server.ts', String(port), JSON.stringify(answer)],
    {
      env: AGGREGATOR_ENV,
      ...run,
    },
  );
  return ready(child, `http://127.0.0.1:${port}`, 'the bare fastify server');
}

let jobs = 0;

/** Runs autocannon in its own process; `dir` holds the job file. */
export async function runLoad(dir: string, job: LoadJob, run: RunOptions = {}): Promise<LoadResult> {
  const file = path.join(dir, `load-job-${++jobs}.json`);
  await writeFile(file, JSON.stringify(job));
  const worker = spawnChild([...TSX_IMPORT, 'bench/ingest/load-worker.ts', file], run);
  const limitMs = ((job.durationS ?? 0) + 60) * 1000;
  const timer = setTimeout(() => void worker.stop(), limitMs);
  const code = await worker.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`load worker failed (${code}): ${worker.stderr().slice(-2000)}`);
  return JSON.parse(worker.stdout().trim()) as LoadResult;
}
