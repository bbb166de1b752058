// Part 2: aggregator ingest. autocannon (its own process) POSTs realistic reports — facts collected from a
// fixture host, node names rotating over N nodes — to the built aggregator (a child process) with
// authentication and schema validation, and to a bare fastify route that only parses JSON, in the same
// run with the same connections and duration. Then p99 latency at a fixed request rate.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AGGREGATOR_ENV } from '../../test/manifests/expected-args.js';
import { makeNode, startK8sEmulator } from '../../testing/k8s-emulator/index.js';
import { memoryOf } from '../lib/proc.js';
import { fixtureFacts, makeReport, nodeName } from '../lib/reports.js';
import type { BenchOptions, PartResult } from '../lib/result.js';
import { runLoad, type ServerChild, startAggregator, startBareServer } from '../lib/servers.js';
import { fmt, median, mib } from '../lib/stats.js';
import { type LoadJob, type LoadResult, NODE_PLACEHOLDER } from './load-job.js';

const AGENT_SA = { namespace: 'osmo-node-validator', name: 'osmo-node-validator-agent' };
const AUDIENCE = 'osmo-node-validator';
const SHARED_TOKEN = 'bench-shared-token-0123456789abcdef';
const TARGET_RATIO = 0.5;
const TARGET_P99_MS = 25;
const FIXED_RATE = 1000;

type ConfigId = 'bare' | 'tokenreview' | 'shared';
const LABEL: Record<ConfigId, string> = {
  bare: 'bare fastify (JSON parse only)',
  tokenreview: 'aggregator, TokenReview (cache warm)',
  shared: 'aggregator, shared token',
};

export async function runIngestPart(opts: BenchOptions): Promise<PartResult> {
  const n = opts.quick ? 1000 : 5000;
  const durationS = opts.quick ? 3 : 10;
  const connections = 10;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-ingest-'));
  const emu = await startK8sEmulator({ maxLogEntries: 1000 });
  const servers: Partial<Record<ConfigId, ServerChild>> = {};
  try {
    const sample = await fixtureFacts('ubuntu2204-gpu-pass');
    const template = JSON.stringify(makeReport(sample, NODE_PLACEHOLDER));
    const nodes = Array.from({ length: n }, (_, i) => nodeName(i + 1));
    emu.nodes.putMany(nodes.map((name) => makeNode(name)));
    const tokens = nodes.map((nodeName) =>
      emu.tokens.issue({
        // Signed by the emulator's issuer key, valid for a day: the aggregator verifies it locally first.
        expiresAt: Date.now() + 86_400_000,
        serviceAccount: AGENT_SA,
        audiences: [AUDIENCE],
        nodeName,
      }),
    );
    const kubeconfig = await emu.writeKubeconfigFile(dir);
    const tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, `${SHARED_TOKEN}\n`);

    opts.log(`ingest: starting servers (${n} nodes in the emulator)`);
    servers.bare = await startBareServer();
    // Dry-run: the reconciler computes but writes nothing, so ingest is not mixed with a write backlog.
    // The TokenReview rate limit raised: the warm-up reviews every node's token at once, which a fleet
    // spread over its report interval does not; the timed runs hit the cache only.
    servers.tokenreview = await startAggregator([
      '--kubeconfig',
      kubeconfig,
      '--dry-run',
      '--token-review-qps',
      '10000',
      '--token-review-burst',
      String(n),
    ]);
    servers.shared = await startAggregator(['--token-file', tokenFile]);
    const tokensOf = (id: ConfigId) => (id === 'tokenreview' ? tokens : [SHARED_TOKEN]);
    const job = (id: ConfigId, extra: Partial<LoadJob>): LoadJob => ({
      url: (servers[id] as ServerChild).url,
      connections,
      durationS,
      template,
      nodes,
      tokens: tokensOf(id),
      ...extra,
    });

    // Warm-up: every node reports once (fills the TokenReview cache and the store), JIT warms.
    const warm: Partial<Record<ConfigId, LoadResult>> = {};
    for (const id of ['bare', 'tokenreview', 'shared'] as const) {
      opts.log(`ingest: warm-up ${LABEL[id]} (${n} reports)`);
      warm[id] = await runLoad(dir, job(id, { amount: n, durationS: 60 }));
    }
    const reviewsAfterWarmup = emu.tokens.reviews.length;

    const throughput: Record<ConfigId, LoadResult[]> = { bare: [], tokenreview: [], shared: [] };
    const fixed: Record<ConfigId, LoadResult[]> = { bare: [], tokenreview: [], shared: [] };
    for (let r = 0; r < opts.reps; r++) {
      for (const id of ['bare', 'tokenreview', 'shared'] as const) {
        opts.log(`ingest: rep ${r + 1}/${opts.reps} max throughput, ${LABEL[id]}`);
        throughput[id].push(await runLoad(dir, job(id, {})));
      }
      for (const id of ['tokenreview', 'shared'] as const) {
        opts.log(`ingest: rep ${r + 1}/${opts.reps} ${FIXED_RATE} req/s, ${LABEL[id]}`);
        fixed[id].push(await runLoad(dir, job(id, { overallRate: FIXED_RATE })));
      }
    }
    const reviewsDuringRuns = emu.tokens.reviews.length - reviewsAfterWarmup;
    const mem = {
      tokenreview: memoryOf(servers.tokenreview.child.pid),
      shared: memoryOf(servers.shared.child.pid),
      bare: memoryOf(servers.bare.child.pid),
    };

    const rps = (id: ConfigId) => median(throughput[id].map((x) => x.rps));
    const p99 = (id: ConfigId) => median(fixed[id].map((x) => x.latencyP99));
    const p50 = (id: ConfigId) => median(fixed[id].map((x) => x.latencyP50));
    const achieved = (id: ConfigId) => median(fixed[id].map((x) => x.rps));
    const failures = (id: ConfigId) =>
      [...throughput[id], ...fixed[id], ...(warm[id] ? [warm[id]] : [])].reduce(
        (s, x) => s + x.non2xx + x.errors + x.timeouts,
        0,
      );
    const ratioTr = rps('tokenreview') / rps('bare');
    const ratioShared = rps('shared') / rps('bare');

    const rows: Array<[string, string]> = [];
    for (const id of ['bare', 'tokenreview', 'shared'] as const) {
      rows.push([
        `${LABEL[id]}: throughput (median; per rep)`,
        `${fmt(rps(id), 0)} req/s (${throughput[id].map((x) => fmt(x.rps, 0)).join(', ')}); non-2xx/errors ${failures(id)}`,
      ]);
    }
    rows.push(['ratio TokenReview / bare', `${fmt(ratioTr, 2)}×`]);
    rows.push(['ratio shared token / bare', `${fmt(ratioShared, 2)}×`]);
    for (const id of ['tokenreview', 'shared'] as const) {
      rows.push([
        `${LABEL[id]}: at ${FIXED_RATE} req/s — achieved, p50, p99`,
        `${fmt(achieved(id), 0)} req/s, ${fmt(p50(id))} ms, ${fmt(p99(id))} ms (p99 per rep: ${fixed[id].map((x) => fmt(x.latencyP99)).join(', ')})`,
      ]);
    }
    rows.push(['TokenReviews sent during the timed runs (cache warm)', String(reviewsDuringRuns)]);
    for (const id of ['tokenreview', 'shared', 'bare'] as const) {
      const m = mem[id];
      rows.push([
        `${LABEL[id]}: VmRSS / VmHWM after the runs`,
        m === null ? 'n/a' : `${fmt(mib(m.rssKiB))} / ${fmt(mib(m.hwmKiB))} MiB`,
      ]);
    }

    const limited =
      "per report the aggregator authenticates (shared token: a SHA-256 of the presented token), parses and validates the closed report schema (ajv), compares the facts with the node's last report (an unchanged report reuses its evaluation), stores it and updates metrics; the bare route only parses; autocannon and the server share 2 cores, and on loopback the response's socket write (same in both) is the largest single cost";
    return {
      id: 'ingest',
      title: 'Aggregator ingest',
      method: [
        `Body: a report built from the facts the collector gathers on fixture host \`ubuntu2204-gpu-pass\` (${template.length} bytes), the node name rotating over ${n} distinct nodes (autocannon \`requests[].setupRequest\` sets the body and the bearer token per request).`,
        `Servers, each its own child process with Node ${process.versions.node}: the built aggregator (\`node dist/cli/main.js aggregator --insecure-http\`) with TokenReview against the Kubernetes API emulator (${n} nodes, one bound ServiceAccount token issued per node with its node-name claim, a JWT signed by the emulator's issuer key with an \`exp\` a day ahead, which the aggregator verifies against the issuer's JWKS before its TokenReview; \`--dry-run\` so no write backlog runs alongside; \`--token-review-qps 10000 --token-review-burst ${n}\` so the warm-up, which reviews every token at once, is not throttled), the built aggregator with a shared token (standalone), and a bare fastify POST route that only parses JSON. Plain HTTP on 127.0.0.1. The aggregators run with the Deployment's environment (${Object.entries(
          AGGREGATOR_ENV,
        )
          .map(([k, v]) => `\`${k}=${v}\``)
          .join(', ')}).`,
        `Load: autocannon in its own process, ${connections} connections, ${durationS} s per run. A warm-up round first sends each node's report once to every server (fills the TokenReview cache and the store). Then ${opts.reps} repetition(s) of: max throughput against each server (interleaved), and a fixed ${FIXED_RATE} req/s (\`overallRate\`, coordinated-omission corrected) against each aggregator. Medians over repetitions. The emulator runs in the bench process; generator, servers and emulator share the machine's cores.`,
        'Reports are unchanged after the warm-up (same facts), so the reconciler has nothing to do during the timed runs — this measures ingest (auth, parse, validate, evaluate, store), not Kubernetes writes (part 3).',
      ],
      rows,
      targets: [
        {
          what: 'throughput with TokenReview auth + validation vs bare fastify',
          target: `≥ ${TARGET_RATIO}×`,
          measured: `${fmt(ratioTr, 2)}× (${fmt(rps('tokenreview'), 0)} vs ${fmt(rps('bare'), 0)} req/s)`,
          met: ratioTr >= TARGET_RATIO,
          limitedBy: `${limited}; this configuration also runs the Kubernetes integration (Node informer, and the reconcile sink planning each report in dry-run), which the standalone shared-token configuration does not`,
        },
        {
          what: 'throughput with shared-token auth + validation vs bare fastify',
          target: `≥ ${TARGET_RATIO}×`,
          measured: `${fmt(ratioShared, 2)}× (${fmt(rps('shared'), 0)} vs ${fmt(rps('bare'), 0)} req/s)`,
          met: ratioShared >= TARGET_RATIO,
          limitedBy: limited,
        },
        {
          what: `p99 latency at ${FIXED_RATE} req/s (TokenReview)`,
          target: `≤ ${TARGET_P99_MS} ms`,
          measured: `${fmt(p99('tokenreview'))} ms`,
          met: p99('tokenreview') <= TARGET_P99_MS && achieved('tokenreview') >= FIXED_RATE * 0.95,
          limitedBy:
            'server and load generator share 2 busy cores; a GC pause or a scheduling delay lands in p99',
        },
        {
          what: `p99 latency at ${FIXED_RATE} req/s (shared token)`,
          target: `≤ ${TARGET_P99_MS} ms`,
          measured: `${fmt(p99('shared'))} ms`,
          met: p99('shared') <= TARGET_P99_MS && achieved('shared') >= FIXED_RATE * 0.95,
          limitedBy:
            'server and load generator share 2 busy cores; a GC pause or a scheduling delay lands in p99',
        },
      ],
      notes: (['bare', 'tokenreview', 'shared'] as const)
        .filter((id) => failures(id) > 0)
        .map((id) => `${LABEL[id]}: ${failures(id)} non-2xx responses, errors or timeouts`),
    };
  } finally {
    for (const s of Object.values(servers)) await s?.stop();
    await emu.close();
    await rm(dir, { recursive: true, force: true });
  }
}
