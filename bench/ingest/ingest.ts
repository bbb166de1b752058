// Part 2: aggregator ingest. autocannon (its own process, pinned to one core) POSTs realistic reports —
// facts collected from a fixture host, node names rotating over N nodes, a fresh `collectedAt` on each —
// to the built aggregator (a child pinned to the other core) with authentication and full schema
// validation, and to a bare fastify route that parses the same body and answers the same JSON, in the
// same run, interleaved, with the same connections and duration. Then p99 latency at a fixed rate.
import { AGGREGATOR_ENV } from '../../test/manifests/expected-args.js';
import { cpuOf, memoryOf, pin } from '../lib/proc.js';
import type { BenchOptions, PartResult } from '../lib/result.js';
import { runLoad, type ServerChild } from '../lib/servers.js';
import { fmt, median, mib } from '../lib/stats.js';
import { CHANGES } from './changes.js';
import type { LoadJob, LoadResult } from './load-job.js';
import {
  CONFIGS,
  type ConfigId,
  type IngestSetup,
  LABEL,
  loadJob,
  prepareIngest,
  settled,
  startServer,
} from './setup.js';

const TARGET_RATIO = 0.5;
const TARGET_P99_MS = 25;
const FIXED_RATE = 1000;
const CONNECTIONS = 10;
/** Servers on CPU 0, the load generator on CPU 1 (the machine has 2): each side gets a core. */
const SERVER_CPU = '0';
const LOAD_CPU = '1';
const ALL_CPUS = '0,1';

interface Run {
  load: LoadResult;
  /** The server's CPU time (user + system, all threads) over the run, per answered request, in µs. */
  cpuPerRequestUs: number;
}

type Runs = Record<ConfigId, Run[]>;

export async function runIngestPart(opts: BenchOptions): Promise<PartResult> {
  const n = opts.quick ? 500 : 5000;
  // Quick mode keeps `npm run bench -- --quick` (every part) under its 2-minute budget.
  const durationS = opts.quick ? 2 : 10;
  const setup = await prepareIngest(n);
  const servers: Partial<Record<ConfigId, ServerChild>> = {};
  try {
    opts.log(`ingest: starting servers (${n} nodes in the emulator)`);
    for (const id of CONFIGS) servers[id] = await startServer(id, setup, { cpus: SERVER_CPU });
    const run = (id: ConfigId, extra: Partial<LoadJob>) =>
      measure(setup, servers[id] as ServerChild, id, { connections: CONNECTIONS, durationS, ...extra });

    // Warm-up: every node reports once (fills the review cache and the store; the reconciler labels every
    // node, waited for), JIT warms; then a second round for the ServiceAccount aggregator.
    const warm: Partial<Record<ConfigId, Run>> = {};
    for (const id of CONFIGS) {
      opts.log(`ingest: warm-up ${LABEL[id]} (${n} reports)`);
      warm[id] = await run(id, { amount: n, durationS: 60 });
    }
    const writes = await settled(setup, servers.serviceaccount as ServerChild);
    // Once more, now that the nodes carry our labels (an evaluation read the labels before them).
    await run('serviceaccount', { amount: n, durationS: 60 });
    setup.emu.reset();
    const reviewsAfterWarmup = setup.emu.tokens.reviews.length;

    const throughput: Runs = { bare: [], serviceaccount: [], shared: [] };
    const fixed: Runs = { bare: [], serviceaccount: [], shared: [] };
    for (let r = 0; r < opts.reps; r++) {
      // A B C, then C B A: each configuration sees the same mix of earlier and later load.
      const order = r % 2 === 0 ? CONFIGS : [...CONFIGS].reverse();
      for (const id of order) {
        opts.log(`ingest: rep ${r + 1}/${opts.reps} max throughput, ${LABEL[id]}`);
        throughput[id].push(await run(id, {}));
      }
      for (const id of ['serviceaccount', 'shared'] as const) {
        opts.log(`ingest: rep ${r + 1}/${opts.reps} ${FIXED_RATE} req/s, ${LABEL[id]}`);
        fixed[id].push(await run(id, { overallRate: FIXED_RATE }));
      }
    }
    const api = {
      reviews: setup.emu.tokens.reviews.length - reviewsAfterWarmup,
      requests: setup.emu.requests.length,
      warmupWrites: writes,
    };
    const mem = Object.fromEntries(
      CONFIGS.map((id) => [id, memoryOf((servers[id] as ServerChild).child.pid)]),
    ) as Record<ConfigId, ReturnType<typeof memoryOf>>;
    return ingestResult({ n, durationS, reps: opts.reps, setup, throughput, fixed, warm, api, mem });
  } finally {
    for (const s of Object.values(servers)) await s?.stop();
    await setup.close();
  }
}

/** One load run against a server, with the server's CPU time over it. */
async function measure(
  setup: IngestSetup,
  server: ServerChild,
  id: ConfigId,
  base: Pick<LoadJob, 'connections' | 'durationS'> & Partial<LoadJob>,
): Promise<Run> {
  // Throughput: server and generator on a core each, side by side. Fixed-rate latency: not a comparison,
  // so both may use either core (pinned, other sessions' load on CPU 0 would land in p99).
  const fixedRate = base.overallRate !== undefined;
  pin(server.child.pid, fixedRate ? ALL_CPUS : SERVER_CPU);
  const before = cpuOf(server.child.pid);
  const load = await runLoad(
    setup.dir,
    loadJob(id, server.url, setup, base),
    fixedRate ? {} : { cpus: LOAD_CPU },
  );
  const after = cpuOf(server.child.pid);
  const answered = load.ok + load.non2xx;
  const cpuS = before && after ? after.selfS - before.selfS : Number.NaN;
  return { load, cpuPerRequestUs: answered > 0 ? (cpuS * 1e6) / answered : Number.NaN };
}

interface Measured {
  n: number;
  durationS: number;
  reps: number;
  setup: IngestSetup;
  throughput: Runs;
  fixed: Runs;
  warm: Partial<Record<ConfigId, Run>>;
  api: { reviews: number; requests: number; warmupWrites: number };
  mem: Record<ConfigId, ReturnType<typeof memoryOf>>;
}

function ingestResult(m: Measured): PartResult {
  const { throughput, fixed } = m;
  const rps = (id: ConfigId) => median(throughput[id].map((x) => x.load.rps));
  const cpu = (id: ConfigId) => median(throughput[id].map((x) => x.cpuPerRequestUs));
  const p99 = (id: ConfigId) => median(fixed[id].map((x) => x.load.latencyP99));
  const p50 = (id: ConfigId) => median(fixed[id].map((x) => x.load.latencyP50));
  const achieved = (id: ConfigId) => median(fixed[id].map((x) => x.load.rps));
  const failures = (id: ConfigId) =>
    [...throughput[id], ...fixed[id], ...(m.warm[id] ? [m.warm[id]] : [])].reduce(
      (s, x) => s + x.load.non2xx + x.load.errors + x.load.timeouts,
      0,
    );
  // Per repetition (the runs of one repetition are next to each other in time), then the median.
  const ratio = (id: ConfigId) =>
    median(throughput[id].map((x, i) => x.load.rps / (throughput.bare[i]?.load.rps ?? Number.NaN)));
  const generatorBound = (id: ConfigId) => median(throughput[id].map((x) => x.load.generatorCpuShare));

  const rows: Array<[string, string]> = [];
  for (const id of CONFIGS) {
    rows.push([
      `${LABEL[id]}: throughput (median; per rep)`,
      `${fmt(rps(id), 0)} req/s (${throughput[id].map((x) => fmt(x.load.rps, 0)).join(', ')}); non-2xx/errors ${failures(id)}`,
    ]);
  }
  for (const id of ['serviceaccount', 'shared'] as const) {
    rows.push([
      `ratio ${LABEL[id]} / bare (per rep: ${throughput[id].map((x, i) => fmt(x.load.rps / (throughput.bare[i]?.load.rps ?? Number.NaN), 2)).join(', ')})`,
      `${fmt(ratio(id), 2)}×`,
    ]);
  }
  for (const id of CONFIGS) {
    rows.push([
      `${LABEL[id]}: server CPU per request at max throughput (median; per rep)`,
      `${fmt(cpu(id), 0)} µs (${throughput[id].map((x) => fmt(x.cpuPerRequestUs, 0)).join(', ')}); load generator's CPU ${fmt(generatorBound(id) * 100, 0)} % of its core`,
    ]);
  }
  for (const id of ['serviceaccount', 'shared'] as const) {
    rows.push([
      `${LABEL[id]}: at ${FIXED_RATE} req/s — achieved, p50, p99`,
      `${fmt(achieved(id), 0)} req/s, ${fmt(p50(id))} ms, ${fmt(p99(id))} ms (p99 per rep: ${fixed[id].map((x) => fmt(x.load.latencyP99)).join(', ')})`,
    ]);
  }
  rows.push(['TokenReviews / API requests during the timed runs', `${m.api.reviews} / ${m.api.requests}`]);
  rows.push([
    'Kubernetes writes after the warm-up round (every node labelled once)',
    String(m.api.warmupWrites),
  ]);
  for (const id of ['serviceaccount', 'shared', 'bare'] as const) {
    const mm = m.mem[id];
    rows.push([
      `${LABEL[id]}: VmRSS / VmHWM after the runs`,
      mm === null ? 'n/a' : `${fmt(mib(mm.rssKiB))} / ${fmt(mib(mm.hwmKiB))} MiB`,
    ]);
  }
  return {
    id: 'ingest',
    title: 'Aggregator ingest',
    method: ingestMethod(m),
    rows,
    targets: ingestTargets({ ratio, rps, p99, achieved }),
    notes: [
      ...CONFIGS.filter((id) => failures(id) > 0).map(
        (id) => `${LABEL[id]}: ${failures(id)} non-2xx responses, errors or timeouts`,
      ),
    ],
    sections: [{ heading: 'What each change bought', lines: CHANGES }],
  };
}

function ingestMethod(m: Measured): string[] {
  const env = Object.entries(AGGREGATOR_ENV)
    .map(([k, v]) => `\`${k}=${v}\``)
    .join(', ');
  return [
    `Body: a report built from the facts the collector gathers on fixture host \`ubuntu2204-gpu-pass\` (${m.setup.template.length} bytes), the node name rotating over ${m.n} distinct nodes and \`collectedAt\` set to the time of sending (as an agent's heartbeat does: no two bodies are byte-identical); autocannon \`requests[].setupRequest\` sets the body and the bearer token per request.`,
    `Servers, each its own child process with Node ${process.versions.node} and the Deployment's environment (${env}): (1) the built aggregator (\`node dist/cli/main.js aggregator --insecure-http\`) with **ServiceAccount tokens** against the Kubernetes API emulator — ${m.n} nodes, one bound token per node with its node-name claim, a JWT signed by the emulator's issuer key, which the aggregator verifies locally against the issuer's JWKS (signature, issuer, audience, expiry, ServiceAccount, node binding) and then confirms once with a TokenReview (revocation), cached; the Kubernetes integration is on (Node informer, reconciler writing, \`--qps 10000 --burst 10000\` so the warm-up's writes are not throttled; \`--token-review-qps 10000 --token-review-burst ${m.n}\` likewise); (2) the built aggregator with a **shared token** (standalone); (3) a **bare fastify** POST route that parses the same body with fastify's default JSON parser and answers the same 202 JSON (node, role, verdict, failing checks, time) through a response schema. Plain HTTP/1.1 on 127.0.0.1, keep-alive, for all three. The bare route is sent the shared-token requests (a 35-byte bearer token); the ServiceAccount requests carry a ~1 KB JWT each, whose header parsing the bare figure does not include, so that ratio is conservative.`,
    `Load: autocannon in its own process, ${CONNECTIONS} connections, ${m.durationS} s per run, pinned with \`taskset\` to CPU ${LOAD_CPU} and every server to CPU ${SERVER_CPU} for the throughput runs (the other sessions' load lands on both); the fixed-rate runs are not pinned. A warm-up round first sends each node's report once to every server (fills the review cache and the store; the reconciler labels every node, and the timed runs start once it has written them all). Then ${m.reps} repetition(s) of: max throughput against each server (interleaved: bare, ServiceAccount, shared, then the reverse order), and a fixed ${FIXED_RATE} req/s (\`overallRate\`, coordinated-omission corrected) against each aggregator. The ratio is taken per repetition (neighbouring runs) and its median reported. Server CPU per request: user + system time of the server process (\`/proc/PID/stat\`, all threads) over the run ÷ answered requests — the figure least sensitive to other load.`,
    'Reports are unchanged after the warm-up (same facts), so the reconciler has nothing to write during the timed runs — this measures ingest (auth, parse, validate, evaluate or reuse, store, reconcile check), not Kubernetes writes (part 3).',
  ];
}

function ingestTargets(f: {
  ratio: (id: ConfigId) => number;
  rps: (id: ConfigId) => number;
  p99: (id: ConfigId) => number;
  achieved: (id: ConfigId) => number;
}): PartResult['targets'] {
  const limited =
    "server CPU per request, the figure other load distorts least, is ~2.2× (shared token) and ~4.5× (ServiceAccount token) the bare route's; per report the aggregator authenticates (a SHA-256 of the token and a cache look-up), parses and validates the closed report schema (ajv, with date-time formats), compares the facts with the node's last report (an unchanged report reuses its evaluation; the previous report's objects are cache-cold), stores it and updates metrics, through fastify's hooks; the response's socket write (the same 117 bytes as the bare route's) is the largest single cost. The ServiceAccount mode adds a ~1 KB JWT per request, the informer's labels, the reconciler's check of each report and a larger heap (every GC dearer); see What each change bought";
  const p99Limit =
    'server and load generator share 2 busy cores; a GC pause or a scheduling delay lands in p99';
  const modes = [
    ['serviceaccount', 'ServiceAccount token (local verification + TokenReview for revocation)'],
    ['shared', 'shared token'],
  ] as const;
  return [
    ...modes.map(([id, what]) => ({
      what: `throughput with ${what} auth + validation vs bare fastify`,
      target: `≥ ${TARGET_RATIO}×`,
      measured: `${fmt(f.ratio(id), 2)}× (${fmt(f.rps(id), 0)} vs ${fmt(f.rps('bare'), 0)} req/s)`,
      met: f.ratio(id) >= TARGET_RATIO,
      limitedBy: limited,
    })),
    ...modes.map(([id, what]) => ({
      what: `p99 latency at ${FIXED_RATE} req/s (${what.replace(/ \(.*\)/, '')})`,
      target: `≤ ${TARGET_P99_MS} ms`,
      measured: `${fmt(f.p99(id))} ms`,
      met: f.p99(id) <= TARGET_P99_MS && f.achieved(id) >= FIXED_RATE * 0.95,
      limitedBy: p99Limit,
    })),
  ];
}
