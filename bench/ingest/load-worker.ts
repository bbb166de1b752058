// The load generator, in its own process: autocannon POSTing reports whose node name (and bearer token)
// rotate over the given nodes. Reads its job from a JSON file, prints the result as one JSON line.
//   node --import tsx bench/ingest/load-worker.ts JOB.json
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { type LoadJob, type LoadResult, NODE_PLACEHOLDER } from './load-job.js';

const jobFile = process.argv[2];
if (jobFile === undefined) throw new Error('usage: load-worker.ts JOB.json');
const job = JSON.parse(readFileSync(jobFile, 'utf8')) as LoadJob;
const bodies = job.nodes.map((n) => job.template.replaceAll(NODE_PLACEHOLDER, n));
let i = 0;
const result = await autocannon({
  url: job.url,
  connections: job.connections,
  duration: job.durationS,
  ...(job.amount !== undefined ? { amount: job.amount } : {}),
  timeout: 10,
  ...(job.overallRate !== undefined ? { overallRate: job.overallRate } : {}),
  requests: [
    {
      method: 'POST',
      path: '/api/v1/reports',
      setupRequest: (req) => {
        const k = i++ % bodies.length;
        const token = job.tokens.length === 1 ? job.tokens[0] : job.tokens[k];
        return {
          ...req,
          method: 'POST',
          path: '/api/v1/reports',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: bodies[k] ?? '',
        };
      },
    },
  ],
});
const out: LoadResult = {
  rps: result['2xx'] / result.duration,
  ok: result['2xx'],
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts,
  latencyP50: result.latency.p50,
  latencyP99: result.latency.p99,
  latencyMax: result.latency.max,
  durationS: result.duration,
};
process.stdout.write(`${JSON.stringify(out)}\n`);
