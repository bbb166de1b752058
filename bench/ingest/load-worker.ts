// The load generator, in its own process: autocannon POSTing reports whose node name (and bearer token)
// rotate over the given nodes, each with the time it is sent as `collectedAt` (so no two bodies of a node
// are byte-identical, as with real agents). Reads its job from a JSON file, prints the result as one JSON
// line.
//   node --import tsx bench/ingest/load-worker.ts JOB.json
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { COLLECTED_AT_PLACEHOLDER, type LoadJob, type LoadResult, NODE_PLACEHOLDER } from './load-job.js';

const jobFile = process.argv[2];
if (jobFile === undefined) throw new Error('usage: load-worker.ts JOB.json');
const job = JSON.parse(readFileSync(jobFile, 'utf8')) as LoadJob;
if (!job.template.includes(COLLECTED_AT_PLACEHOLDER) || !job.template.includes(NODE_PLACEHOLDER)) {
  throw new Error('load job: the template needs both the node and the collectedAt placeholders');
}
const bodies = job.nodes.map((n) => {
  const [head, tail = ''] = job.template.replaceAll(NODE_PLACEHOLDER, n).split(COLLECTED_AT_PLACEHOLDER);
  return { head: head ?? '', tail };
});
let i = 0;
let stamp = '';
let stampMs = 0;
const now = () => {
  const ms = Date.now();
  if (ms !== stampMs) {
    stampMs = ms;
    stamp = new Date(ms).toISOString();
  }
  return stamp;
};
const cpuBefore = process.cpuUsage();
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
        const body = bodies[k];
        return {
          ...req,
          method: 'POST',
          path: '/api/v1/reports',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: body ? `${body.head}${now()}${body.tail}` : '',
        };
      },
    },
  ],
});
const cpu = process.cpuUsage(cpuBefore);
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
  generatorCpuShare: (cpu.user + cpu.system) / 1e6 / result.duration,
};
process.stdout.write(`${JSON.stringify(out)}\n`);
